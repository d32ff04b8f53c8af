import { NextResponse, type NextRequest } from "next/server";
import { env } from "@/lib/env";
import { securityHeaders } from "@/lib/web/security-headers";

/**
 * Runs before every page: sends the security headers (lib/web/security-headers) with a
 * Content-Security-Policy holding a fresh nonce, also set on the request so Next.js puts the nonce
 * on its scripts; and tells Server Components which URL was asked for, so a signed-out visitor is
 * sent to /sign-in?next=<that URL> and comes back to it. Not for /api/: a proxy would buffer
 * request bodies (uploads stream); route handlers send the headers themselves (lib/web/route).
 */
export function proxy(request: NextRequest) {
  const e = env();
  const headers = securityHeaders({
    nonce: Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64"),
    https: new URL(e.APP_URL).protocol === "https:",
    development: !e.production,
    formTargets: [
      ...(e.AUTH_GITHUB_ID ? ["https://github.com"] : []),
      ...(e.AUTH_GOOGLE_ID ? ["https://accounts.google.com"] : []),
    ],
  });
  const forwarded = new Headers(request.headers);
  forwarded.set("x-coffer-path", request.nextUrl.pathname + request.nextUrl.search);
  forwarded.set("Content-Security-Policy", headers["Content-Security-Policy"]!);
  const response = NextResponse.next({ request: { headers: forwarded } });
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}

export const config = { matcher: ["/((?!api/|_next/static|_next/image|favicon.ico).*)"] };

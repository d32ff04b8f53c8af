import { NextResponse, type NextRequest } from "next/server";

/**
 * Tells Server Components which URL was asked for, so a signed-out visitor is sent to
 * /sign-in?next=<that URL> and comes back to it (layouts do not otherwise know the path).
 */
export function proxy(request: NextRequest) {
  const headers = new Headers(request.headers);
  headers.set("x-coffer-path", request.nextUrl.pathname + request.nextUrl.search);
  return NextResponse.next({ request: { headers } });
}

export const config = { matcher: ["/((?!api/|_next/|favicon.ico).*)"] };

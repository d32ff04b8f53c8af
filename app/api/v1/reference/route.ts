import { randomBytes } from "node:crypto";
import { referencePage } from "@/lib/api/reference";
import { env } from "@/lib/env";
import { securityHeaders } from "@/lib/web/security-headers";

export const dynamic = "force-dynamic";

/** The interactive API reference (public, like the document it shows); scripts only with this nonce. */
export function GET(): Response {
  const nonce = randomBytes(16).toString("base64");
  const e = env();
  const headers = securityHeaders({
    nonce,
    https: new URL(e.APP_URL).protocol === "https:",
    development: !e.production,
  });
  return new Response(referencePage(nonce), {
    headers: { ...headers, "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" },
  });
}

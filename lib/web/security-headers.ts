/**
 * Response headers every page and route sends. The Content-Security-Policy allows scripts only
 * with this response's nonce (Next.js puts it on its own inline and bootstrap scripts when the
 * request carries the policy) and what those scripts load ('strict-dynamic'); nothing may frame
 * Coffer; forms post only to Coffer (and to the sign-in providers). Styles allow inline: React
 * style attributes cannot carry a nonce, and styles cannot run code.
 */
export interface SecurityHeaderOptions {
  /** A fresh random value per response, for pages; routes that return data get no script at all. */
  nonce?: string;
  /** APP_URL is https: browsers are told to use https only (HSTS), and to upgrade requests. */
  https: boolean;
  /** `next dev` evaluates scripts and talks to its reloader over a websocket. */
  development: boolean;
  /** Origins sign-in forms redirect to (GitHub, Google) when those providers are set. */
  formTargets?: string[];
}

export function securityHeaders(o: SecurityHeaderOptions): Record<string, string> {
  const csp = o.nonce
    ? [
        "default-src 'self'",
        `script-src 'self' 'nonce-${o.nonce}' 'strict-dynamic'${o.development ? " 'unsafe-eval'" : ""}`,
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        `connect-src 'self'${o.development ? " ws: wss:" : ""}`,
        "object-src 'none'",
        "base-uri 'self'",
        `form-action 'self'${(o.formTargets ?? []).map((t) => ` ${t}`).join("")}`,
        "frame-ancestors 'none'",
        ...(o.https ? ["upgrade-insecure-requests"] : []),
      ]
    : ["default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"];
  return {
    "Content-Security-Policy": csp.join("; "),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    ...(o.https && { "Strict-Transport-Security": "max-age=63072000; includeSubDomains" }),
  };
}

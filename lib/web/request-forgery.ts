import { AppError } from "../errors";

/**
 * Requests that change state must come from Coffer's own pages, or be API calls. A browser sends
 * `Sec-Fetch-Site` (same-origin for Coffer's pages) and `Origin` with every POST; another site can
 * make a signed-in browser send a POST (a form, a fetch without CORS) but cannot make it claim
 * Coffer's origin. API clients authenticate with a Bearer token, which a browser never attaches
 * on its own, so they need neither header. The content type is checked too: a cross-site form
 * can only send form encodings and text/plain.
 */
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export function requestForgeryRefusal(
  request: Request,
  opts: { appUrl: string; contentTypes?: readonly string[] },
): AppError | undefined {
  if (SAFE.has(request.method.toUpperCase())) return undefined;
  const h = request.headers;
  if (/^Bearer\s+\S/i.test(h.get("authorization") ?? "")) return undefined;
  const origins = new Set([new URL(opts.appUrl).origin, new URL(request.url).origin]);
  const site = h.get("sec-fetch-site");
  const origin = h.get("origin");
  if ((site && site !== "same-origin") || !origin || !origins.has(origin))
    return new AppError(
      "FORBIDDEN",
      "This request did not come from Coffer's own pages, so it was refused. Use Coffer's pages (or the API with a token).",
    );
  const type = (h.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (opts.contentTypes && !opts.contentTypes.includes(type))
    return new AppError(
      "VALIDATION",
      `Send the body as ${opts.contentTypes.join(" or ")} (Content-Type), not ${type || "without a content type"}.`,
    );
  return undefined;
}

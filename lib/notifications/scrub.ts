import { redact } from "../log";

/** Longest error text an event carries; the app shows the whole message. */
export const MAX_ERROR_CHARS = 500;

/**
 * An error message as notifications carry it, outside Coffer: credentials redacted, and what could
 * come from inside a backup removed — quoted values (psql quotes the offending value of a row),
 * absolute paths and archive member names (file names) — then cut to MAX_ERROR_CHARS.
 */
export function scrubError(message: string | null | undefined): string | null {
  if (!message) return null;
  const text = redact(message)
    .replace(/"[^"\n]*"/g, '"…"')
    .replace(/'[^'\n]*'/g, "'…'")
    .replace(/(^|[\s(=:,])(?:\/|~\/|\.\.\/)[^\s"'),;]*/g, "$1[path]")
    .replace(/(^|[\s(=:,])(?:files|postgres)\/[^\s"'),;]+/g, "$1[path]")
    .replace(/\s+/g, " ")
    .trim();
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 1)}…` : text;
}

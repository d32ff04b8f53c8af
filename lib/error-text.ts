import "server-only";
import { log } from "./log";

/**
 * Errors of the libraries Coffer reads archives and files with (zlib, tar-stream, Node's file
 * system) in words a user can act on: their own messages ("incorrect header check", "Invalid tar
 * header", "ENOSPC: no space …" with a host path) mean little and may show paths. The raw message
 * goes to the server log with `context` (ids only); callers wrap the answer in their own sentence.
 */
export function plainCause(err: unknown, context: Record<string, unknown>): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  const message = typeof e?.message === "string" ? e.message : String(err);
  log.warn("error shown in plain words", { ...context, code, raw: message.slice(0, 300) });
  if (code === "Z_BUF_ERROR" || /unexpected end of file/i.test(message))
    return "the file ends before its compressed data does: it was cut short (an interrupted copy or download)";
  if (code.startsWith("Z_"))
    return "it is not gzip-compressed data, or that data is damaged (a different format, or changed since it was made)";
  if (/tar header|Invalid header|Unexpected end of data|Header exceeds/i.test(message))
    return "it is gzip-compressed, but what is inside is not a complete tar archive";
  if (code === "ENOSPC" || code === "EDQUOT") return "the disk is full";
  if (code === "EACCES" || code === "EPERM") return "permission was denied";
  if (code === "ENOENT") return "a file or folder it needs is missing";
  if (code === "ECONNRESET" || code === "EPIPE" || code === "ERR_STREAM_PREMATURE_CLOSE")
    return "the connection closed before the end";
  return "an unexpected error (its details are in Coffer's server log)";
}

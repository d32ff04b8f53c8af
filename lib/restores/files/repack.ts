import type * as tarStream from "tar-stream";
import type { CheckedEntry } from "./entry-checker";

// The header sent to the server's `tar -x` for an accepted entry: built from scratch, so nothing of
// the original header reaches the server except the checked name and type, mode, times and owners.

const MAX_ID = 0o777777; // what tar-stream's ustar encoder can write for uid/gid
const MAX_TIME = 0o77777777777;
const MAX_OCTAL_SIZE = 0o77777777777;
const PAX_NUMBER = /^\d{1,18}$/;
const PAX_TIME = /^-?\d{1,18}(\.\d{1,9})?$/;

export type RepackedHeader = Partial<tarStream.Header> & { name: string; pax?: Record<string, string> };

/** The header sent to the server: the checked name and type, the recorded mode, times and owners; nothing else of the original. */
export function repackHeader(h: Partial<tarStream.Header>, entry: CheckedEntry): RepackedHeader {
  const src = (h.pax ?? {}) as Record<string, string>;
  const pax: Record<string, string> = {};
  const num = (key: "uid" | "gid", fallback: number | undefined) => {
    const value = PAX_NUMBER.test(src[key] ?? "") ? Number(src[key]) : Math.max(0, Math.trunc(fallback ?? 0));
    if (value > MAX_ID) pax[key] = String(value);
    return Math.min(value, MAX_ID);
  };
  const uid = num("uid", h.uid);
  const gid = num("gid", h.gid);
  const name = (key: "uname" | "gname", fallback: string | undefined) => {
    const value = typeof src[key] === "string" && !/[\0\n]/.test(src[key]) ? src[key] : (fallback ?? "");
    if (Buffer.byteLength(value) > 31 || /[^\x20-\x7e]/.test(value)) {
      if (!/[\0\n]/.test(value)) pax[key] = value;
      return "";
    }
    return value;
  };
  const uname = name("uname", h.uname);
  const gname = name("gname", h.gname);
  let seconds =
    h.mtime instanceof Date && Number.isFinite(h.mtime.getTime()) ? Math.floor(h.mtime.getTime() / 1000) : 0;
  if (PAX_TIME.test(src.mtime ?? "")) {
    pax.mtime = src.mtime!;
    seconds = Math.floor(Number(src.mtime));
  }
  if (seconds < 0 || seconds > MAX_TIME) {
    pax.mtime ??= String(seconds);
    seconds = Math.min(Math.max(seconds, 0), MAX_TIME);
  }
  const size = entry.type === "file" ? (h.size ?? 0) : 0;
  if (size > MAX_OCTAL_SIZE) pax.size = String(size);
  const out: RepackedHeader = {
    name: entry.name,
    type: entry.type,
    mode: (h.mode ?? (entry.type === "directory" ? 0o755 : 0o644)) & 0o7777,
    uid,
    gid,
    uname,
    gname,
    mtime: new Date(seconds * 1000),
    size,
  };
  if (entry.linkname !== undefined) out.linkname = entry.linkname;
  if (Object.keys(pax).length) out.pax = pax;
  return out;
}

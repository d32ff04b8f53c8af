import "server-only";
import { randomBytes } from "node:crypto";
import { posix } from "node:path";
import { AppError } from "@/lib/errors";

/** A file path for readFile/writeFile: non-empty, no NUL, not a folder. */
export function checkPath(path: string): void {
  if (typeof path !== "string" || !path || path.includes("\0"))
    throw new AppError("VALIDATION", "A file path is required.");
  if (path.endsWith("/")) throw new AppError("VALIDATION", `${path} is a folder, not a file path.`);
}

/** A hidden, random name in the same folder (so the final rename stays on one file system), with `tag` in it when given. */
export function temporarySibling(path: string, tag?: string): string {
  if (tag !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(tag))
    throw new AppError("VALIDATION", "A temporary file's tag may only contain letters, digits, '_' and '-'.");
  const dir = posix.dirname(path);
  const base = posix.basename(path);
  return posix.join(dir, `.${base}.coffer-${tag === undefined ? "" : `${tag}-`}${randomBytes(6).toString("hex")}.tmp`);
}

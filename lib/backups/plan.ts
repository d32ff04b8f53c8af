import { AppError } from "@/lib/errors";
import { formatBytes } from "@/lib/format";

/**
 * Pure pieces of archive planning (no I/O), unit-tested on their own: the free-space decision,
 * archive member names, source path normalization, the `find` expression for excludes and the
 * parsers of `sha256sum -z` / `stat --printf` output.
 */

/** Free space Coffer keeps in the work folder on top of the estimated size of the spooled dumps. */
export const DEFAULT_HEADROOM_BYTES = 64 * 1024 * 1024;

/**
 * Whether the spooled dumps fit. Dumps are compressed as pg_dump writes them, so the work folder
 * holds compressed SQL only: measured at 10–20% of `pg_database_size` for ordinary tables (indexes
 * are not dumped, SQL text compresses 4–6×), but up to about the database's size for data that
 * does not compress (bytea of images or archives). Half the databases' size plus `headroomBytes`
 * is the estimate; a dump that outgrows it fails with a message and leaves nothing behind.
 * Directory sources are read in place and need no room. Returns the message to show when it does
 * not fit.
 */
export function freeSpaceProblem(o: {
  dir: string;
  server: string;
  freeBytes: number;
  databaseBytes: number;
  headroomBytes?: number;
}): string | undefined {
  const need = Math.ceil(o.databaseBytes / 2) + (o.headroomBytes ?? DEFAULT_HEADROOM_BYTES);
  if (o.freeBytes >= need) return undefined;
  return (
    `Not enough free space in ${o.dir} on ${o.server}: ${formatBytes(o.freeBytes)} free, need about ${formatBytes(need)}. ` +
    "Free some space there, or choose another work folder in the server's settings."
  );
}

/** A whole cluster's roles and tablespaces (`pg_dumpall --globals-only`); no database's dump takes this name. */
export const GLOBALS_PATH = "postgres/globals.sql";

/**
 * Archive member names `postgres/<database>.sql`, one per dump in order, unique (never
 * GLOBALS_PATH or a `reserved` name) and safe to extract.
 */
export function dumpPaths(sources: { id: string; database: string }[], reserved: string[] = []): string[] {
  const safe = (s: string) => {
    const cleaned = s.replace(/[/\\\p{Cc}]/gu, "_").slice(0, 200);
    return !cleaned || cleaned.startsWith(".") ? `_${cleaned}` : cleaned;
  };
  const out: string[] = [];
  const taken = new Set<string>([GLOBALS_PATH, ...reserved]);
  for (const s of sources) {
    let name = `postgres/${safe(s.database)}.sql`;
    if (taken.has(name)) name = `postgres/${safe(s.database)}-${safe(s.id)}.sql`;
    for (let i = 2; taken.has(name); i++) name = `postgres/${safe(s.database)}-${safe(s.id)}-${i}.sql`;
    taken.add(name);
    out.push(name);
  }
  return out;
}

/**
 * Checks and normalizes a directory source's paths: absolute, no `.`/`..` parts, no NUL or
 * newline, not `/` itself; repeated slashes and trailing slashes removed; a path inside another
 * one of the list is dropped (it is archived with its parent).
 */
export function normalizePaths(paths: string[]): string[] {
  const normalized = paths.map((raw) => {
    if (typeof raw !== "string" || !raw.startsWith("/"))
      throw new AppError("VALIDATION", `"${String(raw).slice(0, 200)}" is not an absolute path.`);
    if (/[\0\n\r]/.test(raw)) throw new AppError("VALIDATION", "Paths cannot contain NUL or line breaks.");
    const parts = raw.split("/").filter(Boolean);
    if (parts.some((p) => p === "." || p === ".."))
      throw new AppError("VALIDATION", `Write ${raw} without "." or ".." parts.`);
    if (parts.length === 0)
      throw new AppError(
        "VALIDATION",
        "Backing up / as a whole is not supported: choose the folders that hold the data.",
      );
    return `/${parts.join("/")}`;
  });
  const unique = [...new Set(normalized)].sort();
  return unique.filter((p) => !unique.some((q) => q !== p && p.startsWith(`${q}/`)));
}

/** Why a source path that is a symbolic link is refused: `find` lists the link and never goes in. */
export const LINK_PROBLEM =
  "is a symbolic link, so a backup would hold the link and none of the folder it points to (give the folder's own path)";

/**
 * The `find` expression that lists a directory source the way it is archived. It runs in the
 * private folder, where `files` is a symlink to `/`, so names come out as archive member names
 * (`files/var/www/index.html`) and `tar` reads the same names.
 *
 * Exclude patterns (shell wildcards `*`, `?`, `[…]`):
 * - without a slash, they match a file or folder name at any depth (`*.log`, `node_modules`);
 * - starting with a slash, they match a whole absolute path (`/var/www/cache`, `/srv/app?/tmp`);
 * - with a slash elsewhere, they match the end of a path (`cache/tmp` matches any path ending in
 *   `/cache/tmp`).
 * A trailing slash is ignored. An excluded folder is skipped with everything inside it.
 * The private folder itself (find's working folder, `.`) is always excluded when the work folder is
 * inside a source: by identity, so a work folder reached through a link, or whose path has `[`,
 * `*` or `?`, is excluded too.
 *
 * `-fprint0` writes every archived name to `allList` and regular files to `regularList`
 * (NUL-separated, so any byte in a name is safe); symlinks are listed, never followed.
 */
export function findArgs(o: { paths: string[]; excludes: string[]; allList: string; regularList: string }): string[] {
  const conditions: string[][] = [["-samefile", "."]];
  for (const raw of o.excludes) {
    const pattern = raw.trim().replace(/\/+$/, "");
    if (!pattern) continue;
    if (pattern.startsWith("/")) conditions.push(["-path", `files${pattern}`]);
    else if (pattern.includes("/")) conditions.push(["-path", `*/${pattern}`]);
    else conditions.push(["-name", pattern]);
  }
  const expression = conditions.flatMap((c, i) => (i === 0 ? c : ["-o", ...c]));
  return [
    "find",
    ...o.paths.map((p) => `files${p}`),
    "(",
    ...expression,
    ")",
    "-prune",
    "-o",
    "-fprint0",
    o.allList,
    "-type",
    "f",
    "-fprint0",
    o.regularList,
  ];
}

/** `sha256sum -z` output: `<hex>  <name>\0` (or ` *<name>` in binary mode); names unescaped. */
export function parseSha256Output(out: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const record of out.split("\0")) {
    if (!record) continue;
    const m = /^([0-9a-f]{64}) [ *]([\s\S]*)$/.exec(record);
    if (!m) throw new AppError("UPSTREAM", `Unexpected sha256sum output: ${JSON.stringify(record.slice(0, 120))}.`);
    result.set(m[2]!, m[1]!);
  }
  return result;
}

/** `stat --printf '%s %n\0'` output. */
export function parseStatOutput(out: string): Map<string, number> {
  const result = new Map<string, number>();
  for (const record of out.split("\0")) {
    if (!record) continue;
    const m = /^(\d+) ([\s\S]*)$/.exec(record);
    if (!m) throw new AppError("UPSTREAM", `Unexpected stat output: ${JSON.stringify(record.slice(0, 120))}.`);
    result.set(m[2]!, Number(m[1]));
  }
  return result;
}

/** The private folder a backup's archive is built in on the server: `<work folder>/coffer-<backupId>-XXXXXX` (archive/start.ts). */
export const workFolderName = (backupId: string) => `coffer-${backupId}`;

/** An id that is safe inside a file name (the private folder is `coffer-<backupId>-XXXXXX`). */
export function checkBackupId(id: string): void {
  if (typeof id !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
    throw new AppError("VALIDATION", "A backup id may only contain letters, digits, '_' and '-' (at most 64).");
  }
}

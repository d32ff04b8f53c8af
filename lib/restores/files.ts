import "server-only";
import type { Readable, Writable } from "node:stream";
import * as tarStream from "tar-stream";
import { AppError } from "@/lib/errors";
import { formatBytes } from "@/lib/format";
import { runCommand, type Reach, type RunningCommand } from "@/lib/reach";

/**
 * Restores directory sources from a backup archive (`files/<absolute path>/…`) to a folder on a
 * server.
 *
 * The archive is never handed to the server as it is. Node parses it (tar-stream), checks every
 * entry in order with `RestoreEntryChecker` and re-packs only the entries it accepted, renamed
 * relative to the extraction folder (`files/var/www/a` → `var/www/a`), with fresh headers (no pax
 * records of the original are copied, except owner and time values). The server's `tar -x` reads
 * that re-packed stream from stdin, so what it extracts is exactly what was checked: no absolute
 * names, no `..`, nothing written through a symbolic link, no link that leads outside the folder.
 * An entry is checked before it is sent, so a refused entry never reaches the server; what was
 * extracted before it is removed.
 *
 * Modes:
 * - `fresh`: the target must not exist (or be an empty folder). It is created (with its missing
 *   parents) and extracted into directly. On failure or cancel, what Coffer created is removed: the
 *   highest folder it created, or, for a folder that existed empty, its contents.
 * - `overwrite`: the target must be an existing folder. The archive is extracted into a private
 *   folder inside it (`mktemp -d <target>/.coffer-restore-<id>-XXXXXX`, 0700) and only after a
 *   complete, successful extraction copied over the target with `cp -a --remove-destination`
 *   (symbolic links stay links; a file, link or hard link in the target is replaced, never
 *   written through). Before
 *   the copy the staged tree is compared with the target: a folder that meets a symbolic link or a
 *   file in the target (or a file that meets a folder) is refused up front, so `cp` never follows
 *   a link out of the target and the target is left as it was. Folders the archive only implies
 *   (parents such as `var/` with no entry of their own) take the target's existing owner, mode and
 *   times, so restoring `files/home/alice/docs` does not reset `/home/alice`; the target folder's
 *   own owner, mode and modification time stay as they were. Once the copy has begun it is not
 *   cancelled (that would leave the target half-overwritten): a cancel arriving during the copy is
 *   ignored and the restore completes.
 *
 * The private folder (and, for `fresh`, the new target) is held by a "guardian" command on the
 * server that removes it when its stdin closes without a "keep": Coffer closes it on failure, and
 * sshd closes it when the connection is lost, so nothing is left behind on any path.
 *
 * Ownership and permissions: the server's `tar` runs with `--preserve-permissions` (modes exactly
 * as recorded, also for a non-root login; the private folder is 0700 until the copy) and its
 * default owner handling (root restores the recorded owners, any other user owns what it writes).
 *
 * Memory: file data streams with back-pressure through fixed-size buffers; the checker keeps one
 * small record per restored path (needed to check hard links and symbolic links), so very large
 * trees cost about 100–200 bytes per entry.
 */

export interface DirectoryRestoreJob {
  reach: Reach;
  /** For messages. */
  serverName: string;
  /** The plain tar stream (already gunzipped by the caller). */
  tar: Readable;
  /** Archive member prefixes to restore, e.g. ["files/var/www"]; each starts with "files/". */
  members: string[];
  /** Absolute folder on the server. */
  target: string;
  mode: "fresh" | "overwrite";
  /** Letters, digits, `_` (part of the private folder's name). */
  restoreId: string;
  /** Cancels: the server command is killed, what was created removed; rejects with the reason. */
  signal?: AbortSignal;
  /** Run-log lines. */
  onStep?: (line: string) => void;
  /** Bytes of the tar stream consumed so far. */
  onBytes?: (n: number) => void;
}

export interface DirectoryRestoreResult {
  /** Regular files written (hard links included). */
  files: number;
  /** Bytes of file data written. */
  bytes: number;
}

// ---------------------------------------------------------------------------------------------
// Checking entries (pure)

/** The subset of a tar-stream header the checker reads. */
export interface EntryHeader {
  name: string;
  type?: string | null;
  linkname?: string | null;
  pax?: Record<string, string> | null;
}

export type RestoredEntryType = "file" | "directory" | "symlink" | "link";

export interface CheckedEntry {
  /** The name in the re-packed tar: relative to the extraction folder, `files/` stripped. */
  name: string;
  type: RestoredEntryType;
  /** Symbolic link: its target as recorded. Hard link: the re-packed name of the file it links to. */
  linkname?: string;
}

type PathNode = { kind: "dir"; explicit: boolean } | { kind: "file" } | { kind: "symlink"; target: string };

const MAX_SYMLINK_HOPS = 40; // Linux's limit (ELOOP)
const KIND_WORDS: Record<PathNode["kind"], string> = { dir: "a folder", file: "a file", symlink: "a symbolic link" };

/** A name for messages: quoted, control characters visible, long names shortened. */
function show(name: string): string {
  return JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
}

function refuse(raw: string, why: string): AppError {
  return new AppError("VALIDATION", `The archive entry ${show(raw)} ${why}.`);
}

/** Splits an archive path into its components without `.` and empty parts; refuses absolute paths and `..` (naming `entry`). */
function archiveComponents(raw: string, what: string, entry = raw): string[] {
  const shown = entry === raw ? "" : ` ${show(raw)}`;
  if (raw.includes("\0")) throw refuse(entry, `has a NUL character in its ${what}`);
  if (raw.startsWith("/")) throw refuse(entry, `has an absolute ${what}${shown}`);
  const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw refuse(entry, `has ".." in its ${what}${shown}`);
  return parts;
}

/** Normalised member prefixes ("files/var/www"); throws VALIDATION for anything else. */
export function normalizeMembers(members: string[]): string[][] {
  if (!Array.isArray(members) || members.length === 0)
    throw new AppError("VALIDATION", "Choose at least one folder of the backup to restore.");
  return members.map((m) => {
    if (typeof m !== "string" || m.includes("\0") || m.startsWith("/"))
      throw new AppError(
        "VALIDATION",
        `${show(String(m))} is not a folder of the archive: choose folders under files/.`,
      );
    const parts = m.split("/").filter((p) => p !== "" && p !== ".");
    if (parts[0] !== "files" || parts.includes(".."))
      throw new AppError("VALIDATION", `${show(m)} is not a folder of the archive: choose folders under files/.`);
    return parts;
  });
}

/**
 * Checks tar entries in archive order, as the server's `tar -x` would apply them to an empty
 * folder, and returns each accepted entry's re-packed name (or null for entries outside the
 * chosen members, which are skipped). Throws AppError VALIDATION naming the entry and the reason.
 *
 * Every entry of the archive, chosen or not: no empty name, NUL, absolute name or `..` component.
 * Chosen entries (under one of `members`):
 * - types: file (and contiguous file), directory, symbolic link, hard link; never devices, FIFOs,
 *   GNU sparse files or unknown types; names must be valid UTF-8 (else they could not be restored
 *   under the same name);
 * - no parent of the name may be a symbolic link the archive created (writing through a link) or a
 *   file; a path keeps its type (a file may be replaced by a file, a folder repeated, a symbolic
 *   link repeated only with the same target);
 * - symbolic links: target not empty, not absolute, and, resolved from the link's folder through
 *   the links the archive already created (as the kernel would: `..` after a link goes up from where
 *   the link leads), never above the extraction folder. Every path a link's target passes through
 *   (not its last component) is remembered, and no symbolic link may later be created there: that
 *   would change where the earlier link leads (`l -> x/x/x/../../..` followed by `x -> .`);
 * - hard links: the target must be a chosen member already seen as a regular file (or hard link).
 *
 * The entry that names the restore folder itself (`files/` when everything is restored) is
 * skipped: the folder's own owner and mode are never changed.
 */
export class RestoreEntryChecker {
  private readonly members: string[][];
  private readonly nodes = new Map<string, PathNode>();
  /** Paths some symbolic link's target passes through → that link's entry name. */
  private readonly walked = new Map<string, string>();

  constructor(members: string[]) {
    this.members = normalizeMembers(members);
  }

  check(header: EntryHeader): CheckedEntry | null {
    const raw = header.name;
    if (typeof raw !== "string" || raw === "") throw refuse(String(raw ?? ""), "has an empty name");
    const parts = archiveComponents(raw, "name");
    if (!this.chosen(parts)) return null;

    if (raw.includes("\uFFFD"))
      throw refuse(raw, "has a name that is not valid UTF-8, so it cannot be restored under the same name");
    if (header.pax && Object.keys(header.pax).some((k) => k.startsWith("GNU.sparse.")))
      throw refuse(raw, "is a sparse file (GNU sparse pax records), which Coffer does not restore");
    const type = header.type === "contiguous-file" ? "file" : header.type;
    if (type !== "file" && type !== "directory" && type !== "symlink" && type !== "link") {
      const words: Record<string, string> = {
        "character-device": "a character device",
        "block-device": "a block device",
        fifo: "a FIFO (named pipe)",
      };
      throw refuse(
        raw,
        `is ${words[String(type)] ?? "of a type Coffer does not know"}; only files, folders, symbolic links and hard links are restored`,
      );
    }

    const out = parts.slice(1);
    const name = out.join("/");
    if (out.length === 0) {
      if (type === "directory") return null;
      throw refuse(raw, "would replace the restore folder itself");
    }
    this.checkParents(raw, out);
    const existing = this.nodes.get(name);

    switch (type) {
      case "directory": {
        if (existing && existing.kind !== "dir")
          throw refuse(raw, `is a folder, but the archive made ${show(name)} ${KIND_WORDS[existing.kind]} before`);
        this.addParents(out);
        this.nodes.set(name, { kind: "dir", explicit: true });
        return { name, type };
      }
      case "file": {
        if (existing && existing.kind !== "file")
          throw refuse(raw, `is a file, but the archive made ${show(name)} ${KIND_WORDS[existing.kind]} before`);
        this.addParents(out);
        this.nodes.set(name, { kind: "file" });
        return { name, type };
      }
      case "link": {
        const linkRaw = header.linkname ?? "";
        if (!linkRaw) throw refuse(raw, "is a hard link without a target");
        const linkParts = archiveComponents(linkRaw, "hard link target", raw);
        if (!this.chosen(linkParts) || linkParts.length < 2)
          throw refuse(raw, `is a hard link to ${show(linkRaw)}, which is not among the restored files`);
        const linkName = linkParts.slice(1).join("/");
        if (linkName === name) throw refuse(raw, "is a hard link to itself");
        const targetNode = this.nodes.get(linkName);
        if (targetNode?.kind !== "file") {
          throw refuse(
            raw,
            `is a hard link to ${show(linkRaw)}, which ${targetNode ? `is ${KIND_WORDS[targetNode.kind]}` : "does not come before it in the archive"}; hard links must point to a regular file restored earlier`,
          );
        }
        if (existing && existing.kind !== "file")
          throw refuse(raw, `is a hard link, but the archive made ${show(name)} ${KIND_WORDS[existing.kind]} before`);
        this.addParents(out);
        this.nodes.set(name, { kind: "file" });
        return { name, type, linkname: linkName };
      }
      case "symlink": {
        const target = header.linkname ?? "";
        if (existing) {
          if (existing.kind === "symlink" && existing.target === target) return { name, type, linkname: target };
          throw refuse(
            raw,
            `is a symbolic link, but the archive made ${show(name)} ${existing.kind === "symlink" ? "a symbolic link to another place" : KIND_WORDS[existing.kind]} before`,
          );
        }
        if (!target) throw refuse(raw, "is a symbolic link without a target");
        if (target.includes("\0")) throw refuse(raw, "is a symbolic link whose target has a NUL character");
        if (target.includes("\uFFFD")) throw refuse(raw, "is a symbolic link whose target is not valid UTF-8");
        if (target.startsWith("/"))
          throw refuse(
            raw,
            `is a symbolic link to the absolute path ${show(target)}; only links that stay inside the restored folder are allowed`,
          );
        const walkedNow = new Set<string>();
        try {
          this.resolve(out.slice(0, -1), target, false, { hops: MAX_SYMLINK_HOPS }, walkedNow);
        } catch (error) {
          if (error === ESCAPES)
            throw refuse(raw, `is a symbolic link to ${show(target)}, which leads outside the restored folder`);
          if (error === LOOPS)
            throw refuse(raw, `is a symbolic link to ${show(target)}, which goes through too many symbolic links`);
          throw error;
        }
        const earlier = this.walked.get(name);
        if (earlier !== undefined) {
          throw refuse(
            raw,
            `is a symbolic link at a path the earlier symbolic link ${show(earlier)} goes through; creating it would change where that link leads`,
          );
        }
        if (walkedNow.has(name))
          throw refuse(raw, `is a symbolic link to ${show(target)}, which goes through the link itself`);
        for (const p of walkedNow) if (!this.walked.has(p)) this.walked.set(p, raw);
        this.addParents(out);
        this.nodes.set(name, { kind: "symlink", target });
        return { name, type, linkname: target };
      }
    }
  }

  /** Folders that exist only because something inside them was restored (no entry of their own), parents first. */
  implicitDirectories(): string[] {
    const dirs: string[] = [];
    for (const [p, node] of this.nodes) if (node.kind === "dir" && !node.explicit) dirs.push(p);
    return dirs.sort((a, b) => a.split("/").length - b.split("/").length || (a < b ? -1 : a > b ? 1 : 0));
  }

  private chosen(parts: string[]): boolean {
    return this.members.some((m) => m.length <= parts.length && m.every((c, i) => parts[i] === c));
  }

  private checkParents(raw: string, out: string[]) {
    for (let i = 1; i < out.length; i++) {
      const p = out.slice(0, i).join("/");
      const node = this.nodes.get(p);
      if (node?.kind === "symlink")
        throw refuse(
          raw,
          `is inside ${show(p)}, a symbolic link the archive created earlier; Coffer never writes through links`,
        );
      if (node?.kind === "file") throw refuse(raw, `is inside ${show(p)}, which the archive made a file`);
    }
  }

  private addParents(out: string[]) {
    for (let i = 1; i < out.length; i++) {
      const p = out.slice(0, i).join("/");
      if (!this.nodes.has(p)) this.nodes.set(p, { kind: "dir", explicit: false });
    }
  }

  /**
   * Resolves `target` from the folder `from` (components under the root) like the kernel: links
   * the archive created are followed where they are passed through (and the last component too
   * when `followLast`), `..` goes up from where the path physically is. Adds every path passed
   * through (other than links, which cannot change anyway) to `walked`. Throws ESCAPES or LOOPS.
   */
  private resolve(
    from: string[],
    target: string,
    followLast: boolean,
    budget: { hops: number },
    walked: Set<string>,
  ): string[] {
    let stack = [...from];
    const parts = target.split("/").filter((p) => p !== "" && p !== ".");
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part === "..") {
        if (stack.length === 0) throw ESCAPES;
        stack.pop();
        continue;
      }
      stack.push(part);
      if (i === parts.length - 1 && !followLast) break;
      const key = stack.join("/");
      const node = this.nodes.get(key);
      if (node?.kind === "symlink") {
        if (--budget.hops < 0) throw LOOPS;
        stack = this.resolve(stack.slice(0, -1), node.target, true, budget, walked);
      } else {
        walked.add(key);
      }
    }
    return stack;
  }
}

const ESCAPES = Symbol("escapes");
const LOOPS = Symbol("loops");

// ---------------------------------------------------------------------------------------------
// Re-packing

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

// ---------------------------------------------------------------------------------------------
// The restore

const firstLines = (text: string, n = 3) =>
  text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("coffer-pgid:"))
    .slice(0, n)
    .join(" ");

/** An absolute folder without `.`/`..` parts, repeated or trailing slashes. */
function normalizeTarget(target: string): string {
  if (typeof target !== "string" || !target.startsWith("/") || /[\0\n\r]/.test(target))
    throw new AppError("VALIDATION", "The restore folder must be an absolute path, e.g. /srv/restored.");
  const parts = target.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new AppError("VALIDATION", `Write the restore folder ${target} without "..".`);
  return `/${parts.join("/")}`;
}

export async function restoreDirectory(job: DirectoryRestoreJob): Promise<DirectoryRestoreResult> {
  const target = normalizeTarget(job.target);
  if (job.mode !== "fresh" && job.mode !== "overwrite")
    throw new AppError("VALIDATION", 'The restore mode must be "fresh" or "overwrite".');
  if (typeof job.restoreId !== "string" || !/^[A-Za-z0-9_]{1,64}$/.test(job.restoreId))
    throw new AppError("VALIDATION", "The restore id must be letters, digits or _.");
  const checker = new RestoreEntryChecker(job.members);
  const signal = job.signal ?? new AbortController().signal;
  const step = (line: string) => job.onStep?.(line);
  const where = `${target} on ${job.serverName}`;
  let folder: Guardian | undefined;
  let copying = false;
  try {
    signal.throwIfAborted();
    await preflight(job, target, signal);
    signal.throwIfAborted();
    folder = await openGuardian(job, target);
    const into = job.mode === "fresh" ? target : `${folder.dir}/tree`;
    step(
      job.mode === "fresh"
        ? `Created ${where}; extracting…`
        : `Extracting into the private folder ${folder.dir} on ${job.serverName}…`,
    );
    const result = await extract(job, checker, into, signal);
    step(`Extracted ${result.files} file(s), ${formatBytes(result.bytes)}.`);
    if (job.mode === "overwrite") {
      signal.throwIfAborted();
      copying = true;
      step(`Copying over ${target} (this last step is not cancelled once started)…`);
      await copyOver(job, folder.dir, target, checker.implicitDirectories());
      const f = folder;
      folder = undefined;
      try {
        await f.close();
      } catch (error) {
        throw new AppError(
          "UPSTREAM",
          `The files were restored into ${where}, but the private folder ${f.dir} could not be removed (${error instanceof Error ? error.message : String(error)}): remove it by hand.`,
        );
      }
      step("Private folder removed.");
    } else {
      const f = folder;
      folder = undefined;
      await f.keep();
    }
    step(`Restored ${result.files} file(s) into ${where}.`);
    return result;
  } catch (error) {
    const cancelled = signal.aborted && !copying;
    let reason: unknown = cancelled
      ? signal.reason
      : error instanceof AppError
        ? error
        : new AppError(
            "INTERNAL",
            `The restore to ${where} failed: ${error instanceof Error ? error.message : String(error)}`,
          );
    if (folder) {
      const f = folder;
      await f
        .close()
        .catch((e: unknown) =>
          step(
            `Could not remove ${job.mode === "fresh" ? "what the restore created in" : "the private folder"} ${f.dir}: ${e instanceof Error ? e.message : String(e)}`,
          ),
        );
    }
    if (!job.tar.destroyed) job.tar.destroy();
    if (reason instanceof AppError && reason.code === "VALIDATION" && !copying && folder) {
      const outcome = job.mode === "fresh" ? `what Coffer created in ${where} was removed` : `${where} is unchanged`;
      reason = new AppError("VALIDATION", `${reason.message} Nothing was restored: ${outcome}.`);
    }
    throw reason;
  }
}

// ---------------------------------------------------------------------------------------------
// Preflight

const PREFLIGHT = [
  "t=$1; mode=$2",
  'for c in tar mktemp cp find xargs chmod touch stat rm mkdir; do command -v "$c" >/dev/null 2>&1 && echo "tool $c"; done',
  'tar --version 2>/dev/null | head -n 1 | sed "s/^/tarversion /"',
  'if [ "$mode" = overwrite ]; then cp --version 2>/dev/null | head -n 1 | sed "s/^/cpversion /"; fi',
  'if [ -e "$t" ]; then',
  '  if [ ! -d "$t" ]; then echo "target notdir"',
  '  elif [ ! -r "$t" ] || [ ! -w "$t" ] || [ ! -x "$t" ]; then echo "target readonly"',
  '  elif [ -n "$(ls -A -- "$t" | head -n 1)" ]; then echo "target nonempty"',
  '  else echo "target empty"; fi',
  'elif [ -L "$t" ]; then echo "target dangling"',
  "else",
  '  echo "target missing"',
  '  p=$t; while [ ! -e "$p" ] && [ ! -L "$p" ]; do p=$(dirname -- "$p"); done',
  '  printf "parent %s\\n" "$p"',
  '  if [ ! -d "$p" ]; then echo "parent notdir"; elif [ ! -w "$p" ] || [ ! -x "$p" ]; then echo "parent readonly"; fi',
  "fi",
  "true",
].join("\n");

async function preflight(job: DirectoryRestoreJob, target: string, signal: AbortSignal): Promise<void> {
  const { reach, serverName: server, mode } = job;
  const probe = await runCommand(reach, ["sh", "-c", PREFLIGHT, "sh", target, mode], { signal });
  if (probe.code !== 0)
    throw new AppError(
      "UPSTREAM",
      `Could not inspect ${server}: ${firstLines(probe.stderrTail) || `exit ${probe.code ?? probe.signal}`}.`,
    );
  const lines = probe.stdout.split("\n");
  const tools = new Set(lines.filter((l) => l.startsWith("tool ")).map((l) => l.slice(5)));
  const missing = ["tar", "mktemp", "cp", "find", "xargs", "chmod", "touch", "stat", "rm", "mkdir"].filter(
    (t) => !tools.has(t),
  );
  if (missing.length)
    throw new AppError(
      "UPSTREAM",
      `${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} not installed on ${server}: install ${missing.includes("tar") ? "GNU tar and " : ""}coreutils/findutils.`,
    );
  const tarVersion = lines.find((l) => l.startsWith("tarversion "))?.slice(11) ?? "";
  if (!/GNU tar/.test(tarVersion))
    throw new AppError(
      "UPSTREAM",
      `Coffer needs GNU tar on ${server}, found ${tarVersion || "an unknown tar"}: install GNU tar.`,
    );
  if (mode === "overwrite") {
    const cpVersion = lines.find((l) => l.startsWith("cpversion "))?.slice(10) ?? "";
    if (!/GNU coreutils/.test(cpVersion))
      throw new AppError(
        "UPSTREAM",
        `Overwriting needs GNU cp (coreutils) on ${server}, found ${cpVersion || "another cp"}: install coreutils, or restore into a new folder.`,
      );
  }
  const state = lines.find((l) => l.startsWith("target "))?.slice(7);
  const where = `${target} on ${server}`;
  switch (state) {
    case "notdir":
      throw new AppError(
        "VALIDATION",
        `${where} exists and is not a folder: choose ${mode === "fresh" ? "a new folder" : "a folder"}.`,
      );
    case "readonly":
      throw new AppError(
        "VALIDATION",
        `${where} is not readable and writable by the user Coffer logs in as: fix its permissions, or choose another folder.`,
      );
    case "dangling":
      throw new AppError("VALIDATION", `${where} is a symbolic link to nothing: remove it, or choose another folder.`);
    case "nonempty":
      if (mode === "fresh")
        throw new AppError(
          "VALIDATION",
          `${where} already exists and is not empty: choose a new folder or use overwrite.`,
        );
      return;
    case "empty":
      return;
    case "missing": {
      if (mode === "overwrite")
        throw new AppError(
          "VALIDATION",
          `${where} does not exist: overwrite restores into an existing folder. Choose one, or use fresh to create ${target}.`,
        );
      const parent = lines.find((l) => l.startsWith("parent "))?.slice(7) ?? "its parent";
      if (lines.includes("parent notdir"))
        throw new AppError("VALIDATION", `Cannot create ${where}: ${parent} is not a folder. Choose another folder.`);
      if (lines.includes("parent readonly"))
        throw new AppError(
          "VALIDATION",
          `Cannot create ${where}: ${parent} is not writable by the user Coffer logs in as. Fix its permissions, or choose another folder.`,
        );
      return;
    }
    default:
      throw new AppError(
        "UPSTREAM",
        `Could not inspect ${where}: unexpected answer ${show(probe.stdout.slice(0, 200))}.`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// The folder being restored into, held by a guardian command

/**
 * Overwrite: creates the private folder (0700) with `tree/` inside, prints it, waits for EOF on
 * stdin, then removes it and puts the target's modification time back (creating and removing the
 * private folder changed it). Fresh: creates the target (and missing parents) or checks that it is
 * still empty, prints it, and waits: a line "keep" ends it keeping everything; EOF (Coffer's
 * close, or sshd's when the connection goes) or a TERM/HUP/INT removes what it created — the
 * highest folder it created, or the contents of a folder that existed empty.
 * Removal retries after `chmod -R u+rwX` (a non-root extraction can leave folders without write
 * permission); neither chmod nor rm follows symbolic links.
 */
const GUARD_OVERWRITE = [
  "umask 077",
  "t=${1%/}",
  'before=$(stat -c %y -- "$t/") || exit 1',
  'd=$(mktemp -d "$t/.coffer-restore-$2-XXXXXX") || exit 1',
  "clean() {",
  '  rm -rf -- "$d" 2>/dev/null || { chmod -R u+rwX -- "$d" 2>/dev/null; rm -rf -- "$d"; }',
  "  r=$?",
  '  touch -c -m -d "$before" -- "$t/" 2>/dev/null',
  "  return $r",
  "}",
  "trap clean EXIT",
  "trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM",
  'mkdir -- "$d/tree" || exit 1',
  'printf "ready %s\\n" "$d"',
  "cat >/dev/null",
  "trap - EXIT",
  "clean",
].join("\n");

const GUARD_FRESH = [
  "t=$1; top=; p=$t",
  'while [ ! -e "$p" ] && [ ! -L "$p" ]; do top=$p; p=$(dirname -- "$p"); done',
  'if [ -z "$top" ]; then',
  '  if [ ! -d "$t" ]; then echo "$t is not a folder" >&2; exit 3; fi',
  '  if [ -n "$(ls -A -- "$t/" | head -n 1)" ]; then echo "$t is not empty" >&2; exit 3; fi',
  "fi",
  "clean() {",
  '  if [ -n "$top" ]; then rm -rf -- "$top" 2>/dev/null || { chmod -R u+rwX -- "$top" 2>/dev/null; rm -rf -- "$top"; }',
  '  else find -H "$t" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} + 2>/dev/null || { find -H "$t" -mindepth 1 -maxdepth 1 -exec chmod -R u+rwX -- {} + 2>/dev/null; find -H "$t" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +; }; fi',
  "}",
  "trap clean EXIT",
  "trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM",
  'if [ -n "$top" ]; then mkdir -p -- "$t" || exit 1; fi',
  'printf "ready %s\\n" "$t"',
  "IFS= read -r verdict || verdict=",
  'if [ "$verdict" = keep ]; then trap - EXIT; exit 0; fi',
  "trap - EXIT",
  "clean",
].join("\n");

interface Guardian {
  /** Fresh: the target; overwrite: the private folder (extract into `<dir>/tree`). */
  dir: string;
  /** Fresh only: ends the guardian keeping what was restored. */
  keep(): Promise<void>;
  /** Ends the guardian removing what it holds; rejects if that failed. Idempotent. */
  close(): Promise<void>;
}

async function openGuardian(job: DirectoryRestoreJob, target: string): Promise<Guardian> {
  const { reach, signal } = job;
  const fresh = job.mode === "fresh";
  // Deliberately not tied to `signal`: it must outlive a cancellation long enough to clean up.
  const argv = fresh
    ? ["sh", "-c", GUARD_FRESH, "sh", target]
    : ["sh", "-c", GUARD_OVERWRITE, "sh", target, job.restoreId];
  const cmd = reach.exec(argv, { stdin: true });
  let ending: Promise<void> | undefined;
  const end = (verdict: string) =>
    (ending ??= (async () => {
      cmd.stdin!.end(verdict);
      const exit = await cmd.exit;
      if (exit.code !== 0)
        throw new AppError(
          "UPSTREAM",
          `Could not ${verdict ? "finish" : "clean up"} ${fresh ? target : "the private folder"} on ${job.serverName}: ${firstLines(exit.stderrTail) || `exit ${exit.code ?? exit.signal}`}.`,
        );
    })());
  const close = () => end("");
  const line = await Promise.race([
    firstLine(cmd.stdout),
    new Promise<undefined>((r) => signal?.addEventListener("abort", () => r(undefined), { once: true })),
  ]);
  const prefix = fresh ? `ready ${target}` : `ready ${target === "/" ? "" : target}/.coffer-restore-${job.restoreId}-`;
  if (!line || !line.startsWith(prefix) || (fresh && line !== prefix)) {
    void close().catch(() => {});
    signal?.throwIfAborted();
    const exit = await cmd.exit.catch((e: unknown) => ({
      code: null,
      signal: null,
      stderrTail: e instanceof Error ? e.message : String(e),
    }));
    const why = firstLines(exit.stderrTail) || (fresh ? "mkdir failed" : "mktemp failed");
    if (exit.code === 3)
      throw new AppError("VALIDATION", `${why} on ${job.serverName}: choose a new folder or use overwrite.`);
    throw new AppError(
      "UPSTREAM",
      `Could not ${fresh ? `create ${target}` : `create a private folder in ${target}`} on ${job.serverName}: ${why}.`,
    );
  }
  return { dir: line.slice(6), keep: () => end("keep\n"), close };
}

/** The first line of a stream (undefined if it ended first); the rest is drained. */
function firstLine(stream: Readable): Promise<string | undefined> {
  return new Promise((resolve) => {
    let buffer = "";
    let done = false;
    const finish = (value: string | undefined) => {
      if (done) return;
      done = true;
      resolve(value);
    };
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      if (done) return;
      buffer += chunk;
      const i = buffer.indexOf("\n");
      if (i >= 0) finish(buffer.slice(0, i));
    });
    stream.once("end", () => finish(undefined));
    stream.once("close", () => finish(undefined));
    stream.once("error", () => finish(undefined));
  });
}

// ---------------------------------------------------------------------------------------------
// Extraction: parse, check, re-pack, stream into the server's tar

interface Waiter {
  once(event: "drain", listener: () => void): unknown;
  off?(event: "drain", listener: () => void): unknown;
  removeListener?(event: "drain", listener: () => void): unknown;
}

/** Resolves on 'drain', rejects when `stop` aborts. */
function drained(stream: Waiter, stop: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (stop.aborted) return reject(stop.reason);
    const onAbort = () => {
      (stream.off ?? stream.removeListener)?.call(stream, "drain", onDrain);
      reject(stop.reason);
    };
    const onDrain = () => {
      stop.removeEventListener("abort", onAbort);
      resolve();
    };
    stream.once("drain", onDrain);
    stop.addEventListener("abort", onAbort, { once: true });
  });
}

function untilStopped<T>(promise: Promise<T>, stop: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (stop.aborted) return reject(stop.reason);
    const onAbort = () => reject(stop.reason);
    stop.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        stop.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        stop.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

async function extract(
  job: DirectoryRestoreJob,
  checker: RestoreEntryChecker,
  into: string,
  signal: AbortSignal,
): Promise<DirectoryRestoreResult> {
  const { reach } = job;
  signal.throwIfAborted();
  const kill = new AbortController();
  const cmd: RunningCommand = reach.exec(
    ["tar", "--extract", "--file=-", "--preserve-permissions", "--delay-directory-restore", `--directory=${into}`],
    {
      stdin: true,
      signal: AbortSignal.any([signal, kill.signal]),
    },
  );
  const stdin = cmd.stdin! as Writable;
  cmd.stdout.resume();
  const exit = cmd.exit.then(
    (r) => r,
    (e: unknown) => ({ error: e }),
  );

  // The first failure stops everything local; the server's tar is dealt with below.
  const stop = new AbortController();
  const errors: unknown[] = [];
  const fail = (e: unknown) => {
    errors.push(e);
    if (!stop.signal.aborted) stop.abort(e);
  };
  const onAbort = () => fail(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });

  // streamx emits 'error' on destroy; the tasks below see every error, these only keep it from crashing.
  const parser = tarStream.extract();
  const pack = tarStream.pack();
  // The parser emits only its own errors (a damaged or truncated tar), not a destroy by us.
  let parserError: unknown;
  parser.on("error", (e: unknown) => {
    parserError ??= e;
  });
  pack.on("error", () => {});
  stop.signal.addEventListener("abort", () => {
    parser.destroy();
    pack.destroy();
    if (!job.tar.destroyed) job.tar.destroy();
  });

  let consumed = 0;
  let files = 0;
  let bytes = 0;
  let accepted = 0;

  const feeding = (async () => {
    try {
      for await (const chunk of job.tar) {
        const data = chunk as Buffer;
        consumed += data.length;
        job.onBytes?.(consumed);
        if (!parser.write(data)) await drained(parser, stop.signal);
      }
    } catch (error) {
      if (error instanceof AppError || stop.signal.aborted) throw error;
      throw new AppError(
        "UPSTREAM",
        `Reading the backup failed: ${error instanceof Error ? error.message : String(error)}.`,
      );
    }
    parser.end(null);
  })();

  const checking = (async () => {
    for await (const entry of parser) {
      const checked = checker.check({
        name: entry.header.name,
        type: entry.header.type,
        linkname: entry.header.linkname,
        pax: entry.header.pax as Record<string, string> | null,
      });
      if (!checked) {
        entry.resume();
        continue;
      }
      accepted++;
      const header = repackHeader(entry.header, checked);
      await untilStopped(
        new Promise<void>((resolve, reject) => {
          const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
          sink.on("error", () => {});
          if (checked.type === "file") entry.pipe(sink);
          else {
            entry.resume();
            sink.end(null);
          }
        }),
        stop.signal,
      );
      if (checked.type === "file") bytes += header.size ?? 0;
      if (checked.type === "file" || checked.type === "link") files++;
    }
    pack.finalize();
  })();

  const sending = (async () => {
    for await (const chunk of pack) {
      if (!stdin.write(chunk)) await drained(stdin, stop.signal);
    }
    stdin.end();
  })();

  await Promise.allSettled(
    [feeding, checking, sending].map((task) =>
      task.catch((error: unknown) => {
        fail(error);
      }),
    ),
  );
  signal.removeEventListener("abort", onAbort);

  if (stop.signal.aborted) {
    // One failure causes others (a broken entry destroys the pack too): a refusal, then a damaged
    // archive, then the first failure is the cause.
    let reason: unknown =
      errors.find((e) => e instanceof AppError) ??
      (parserError !== undefined
        ? new AppError(
            "VALIDATION",
            `The archive is damaged or not a tar file: ${parserError instanceof Error ? parserError.message : String(parserError)}.`,
          )
        : stop.signal.reason);
    const checkerRefused = reason instanceof AppError && reason.code === "VALIDATION";
    if (!signal.aborted && !checkerRefused) {
      // Perhaps the server's tar quit first (disk full, permissions): its message is the real cause.
      const early = await Promise.race([exit, new Promise<null>((r) => setTimeout(r, 2_000, null))]);
      if (early && "code" in early && early.code !== 0)
        reason = tarFailed(job, early.code, early.signal, early.stderrTail);
    }
    kill.abort(reason);
    stdin.destroy();
    await exit;
    throw signal.aborted ? signal.reason : reason;
  }

  const result = await exit;
  if ("error" in result) throw result.error;
  if (result.code !== 0) throw tarFailed(job, result.code, result.signal, result.stderrTail);
  if (accepted === 0)
    throw new AppError(
      "VALIDATION",
      `The archive has nothing under ${job.members.join(", ")}: choose folders that this backup contains.`,
    );
  return { files, bytes };
}

function tarFailed(job: DirectoryRestoreJob, code: number | null, sig: string | null, stderr: string) {
  return new AppError(
    "UPSTREAM",
    `Extracting on ${job.serverName} failed (tar exit ${code ?? sig}): ${firstLines(stderr) || "no message"}. Check the free space and permissions of ${job.target}.`,
  );
}

// ---------------------------------------------------------------------------------------------
// Overwrite: copy the staged tree over the target

/**
 * In the staged tree ($1/tree): first lists every path whose counterpart in the target ($2) would
 * make `cp` follow a link or fail (a folder over a symbolic link or a file, a non-folder over a
 * real folder) and stops with exit 3 if there is any; then gives the tree's root and the implied
 * folders (NUL-separated on stdin) the target's existing owner, mode and times; then copies.
 */
const COPY = [
  "d=$1; t=$2",
  'cd -- "$d/tree" || exit 125',
  `find . -mindepth 1 -exec sh -c '
t=$1; shift
for p do
  q=$t/\${p#./}
  if [ -d "$p" ] && [ ! -L "$p" ]; then
    if [ -L "$q" ] || { [ -e "$q" ] && [ ! -d "$q" ]; }; then printf "%s\\n" "\${p#./}"; fi
  elif [ -d "$q" ] && [ ! -L "$q" ]; then printf "%s\\n" "\${p#./}"; fi
done' sh "$t" {} + > "$d/conflicts" || exit 4`,
  'if [ -s "$d/conflicts" ]; then head -n 10 "$d/conflicts"; exit 3; fi',
  'ref() { chown --reference="$2" -- "$1" 2>/dev/null; chmod --reference="$2" -- "$1" && touch -r "$2" -- "$1"; }',
  'ref . "$t" || exit 4',
  `xargs -0 -r sh -c '
t=$1; shift
for p do
  q=$t/$p
  if [ -d "$q" ] && [ ! -L "$q" ]; then
    chown --reference="$q" -- "$p" 2>/dev/null
    chmod --reference="$q" -- "$p" && touch -r "$q" -- "$p" || exit 255
  fi
done' sh "$t" || exit 4`,
  'cp -a --remove-destination -T -- . "$t/" || exit 5',
].join("\n");

async function copyOver(job: DirectoryRestoreJob, dir: string, target: string, implicit: string[]): Promise<void> {
  const where = `${target} on ${job.serverName}`;
  const input = implicit.length ? Buffer.from(`${implicit.join("\0")}\0`) : "";
  // Not cancelled: stopping cp halfway would leave the target half-overwritten.
  const r = await runCommand(job.reach, ["sh", "-c", COPY, "sh", dir, target], { input });
  if (r.code === 3) {
    const paths = r.stdout.split("\n").filter(Boolean);
    throw new AppError(
      "VALIDATION",
      `In ${where}, ${paths.map((p) => show(p)).join(", ")}${paths.length >= 10 ? " (and maybe more)" : ""} ${paths.length > 1 ? "are" : "is"} a symbolic link or a file where the backup has a folder (or a folder where it has a file). Nothing was changed: move those away, or restore into a new folder.`,
    );
  }
  if (r.code === 4)
    throw new AppError(
      "UPSTREAM",
      `Could not prepare the copy over ${where}: ${firstLines(r.stderrTail) || "exit 4"}. Nothing was changed.`,
    );
  if (r.code !== 0)
    throw new AppError(
      "UPSTREAM",
      `Copying over ${where} failed: ${firstLines(r.stderrTail) || `exit ${r.code ?? r.signal}`}. Part of the folder may already be restored: run the restore again once the cause is fixed.`,
    );
}

import { AppError } from "@/lib/errors";
import { show } from "./show";

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
 * The rules (no escaping the folder, no writing through links, only files, folders and links) are
 * in docs/design/restore-safety.md.
 */
export class RestoreEntryChecker {
  private readonly members: string[][];
  private readonly nodes = new Map<string, PathNode>();
  /** Paths some symbolic link's target passes through → that link's entry name. */
  private readonly walked = new Map<string, string>();
  /** FIFOs and device files among the chosen entries, left out: how many, and the first names (shown). */
  leftOutCount = 0;
  readonly leftOut: string[] = [];
  /** Their re-packed names: a hard link to one is another name of it, left out too. */
  private readonly leftOutNames = new Set<string>();

  /**
   * `inPlace`: the restore goes to `/`, where an absolute link target means what it did when it was
   * backed up, so it is resolved from the restore folder like any other (`/etc/localtime ->
   * /usr/share/zoneinfo/UTC`); restored anywhere else it would lead out of the restored folder.
   */
  constructor(
    members: string[],
    private readonly o: { inPlace?: boolean } = {},
  ) {
    this.members = normalizeMembers(members);
  }

  check(header: EntryHeader): CheckedEntry | null {
    const raw = header.name;
    if (typeof raw !== "string" || raw === "") throw refuse(String(raw ?? ""), "has an empty name");
    const parts = archiveComponents(raw, "name");
    if (!this.chosen(parts)) return null;

    if (raw.includes("\uFFFD"))
      throw refuse(
        raw,
        "has a name that is not valid UTF-8, so Coffer cannot restore it under the same name. Choose folders without it, or download the backup and extract it with tar, which keeps the name",
      );
    if (header.pax && Object.keys(header.pax).some((k) => k.startsWith("GNU.sparse.")))
      throw refuse(raw, "is a sparse file (GNU sparse pax records), which Coffer does not restore");
    const type = header.type === "contiguous-file" ? "file" : header.type;
    if (type === "fifo" || type === "character-device" || type === "block-device") {
      // Made by a running program, not data: never created, and no reason to hold back the rest.
      this.leaveOut(raw, parts.slice(1).join("/"));
      return null;
    }
    if (type !== "file" && type !== "directory" && type !== "symlink" && type !== "link")
      throw refuse(
        raw,
        "is of a type Coffer does not know; only files, folders, symbolic links and hard links are restored",
      );

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
        if (this.leftOutNames.has(linkName)) {
          this.leaveOut(raw, name);
          return null;
        }
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
        if (target.startsWith("/") && !this.o.inPlace)
          throw refuse(
            raw,
            `is a symbolic link to the absolute path ${show(target)}; only links that stay inside the restored folder are allowed. Restore to / (with Overwrite) to put such links back in place, or choose folders without them`,
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

  private leaveOut(raw: string, name: string) {
    if (this.leftOut.length < LEFT_OUT_NAMED) this.leftOut.push(show(raw));
    this.leftOutCount++;
    this.leftOutNames.add(name);
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
    let stack = target.startsWith("/") ? [] : [...from];
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

const LEFT_OUT_NAMED = 5;
const ESCAPES = Symbol("escapes");
const LOOPS = Symbol("loops");

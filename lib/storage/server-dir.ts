import "server-only";
import path from "node:path";
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { AppError } from "@/lib/errors";
import { runCommand, type Reach } from "../reach";
import {
  checkListPrefix,
  checkRange,
  checkRunId,
  guardDownload,
  KeySpace,
  meteredUpload,
  normalizePrefix,
} from "./common";
import type { GetOptions, ObjectInfo, PutOptions, Retrieval, Room, StorageAdapter, StoredObject } from "./types";

/** A literal file name inside a `find -name` pattern. */
const globLiteral = (name: string) => name.replace(/[*?[\]\\]/g, "\\$&");

/**
 * A backup directory on one of the team's servers, through the server's Reach. Writes go to a
 * temporary name and are renamed into place (Reach.writeFile), so a failed or cancelled put leaves
 * nothing visible. Storage classes do not apply.
 */
export class ServerDirAdapter implements StorageAdapter {
  readonly kind = "server" as const;
  private readonly keys: KeySpace;

  constructor(
    private readonly reach: Reach,
    private readonly root: string,
    prefix?: string,
  ) {
    if (!path.posix.isAbsolute(root))
      throw new AppError("VALIDATION", "The backup directory must be an absolute path, such as /var/backups/coffer.", {
        path: ["Use an absolute path."],
      });
    this.keys = new KeySpace(normalizePrefix(prefix));
  }

  private pathFor(key: string): string {
    return path.posix.join(this.root, this.keys.full(key)); // keys have no "." or ".." segments
  }

  private async run(argv: string[]) {
    const r = await runCommand(this.reach, argv);
    if (r.code !== 0)
      throw new AppError(
        "UPSTREAM",
        `${argv[0]} failed in ${this.root} on ${this.reach.label}: ${r.stderrTail.trim().split("\n")[0] || `exit ${r.code}`}.`,
      );
    return r.stdout;
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<StoredObject> {
    const file = this.pathFor(key);
    await this.run(["mkdir", "-p", "--", path.posix.dirname(file)]);
    return meteredUpload(
      body,
      opts.signal,
      (source, signal) => this.reach.writeFile(file, source, { signal, mode: 0o600, tag: opts.runId }),
      (err) => err as Error,
    );
  }

  async get(key: string, opts: GetOptions = {}) {
    const file = this.pathFor(key);
    const info = await this.head(key);
    if (!info) throw new AppError("NOT_FOUND", `There is no object ${key} in ${this.root} on ${this.reach.label}.`);
    const range = checkRange(opts.range);
    if (range && range.start >= info.size && info.size > 0)
      throw new AppError(
        "VALIDATION",
        `The requested byte range starts after the end of object "${key}" (${info.size} bytes).`,
      );
    const end = Math.min(range?.end ?? info.size - 1, info.size - 1);
    const body = await this.reach.readFile(file, {
      signal: opts.signal,
      ...(range && { range: { start: range.start, length: Math.max(0, end - range.start + 1) } }),
    });
    return guardDownload(body, (e) => e as Error, opts.signal);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const r = await runCommand(this.reach, ["stat", "-c", "%s %Y", "--", this.pathFor(key)]);
    if (r.code !== 0) return null;
    const [size, mtime] = r.stdout.trim().split(" ").map(Number) as [number, number];
    return { key, size, lastModified: new Date(mtime * 1000) };
  }

  async delete(key: string): Promise<void> {
    await this.run(["rm", "-f", "--", this.pathFor(key)]);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const wanted = this.keys.fullListPrefix(checkListPrefix(prefix));
    for await (const line of this.findFiles()) {
      const m = line.match(/^(\d+) ([\d.]+) (.+)$/);
      if (!m || !m[3]!.startsWith(wanted)) continue;
      const key = this.keys.relative(m[3]!);
      if (key) yield { key, size: Number(m[1]), lastModified: new Date(Number(m[2]) * 1000) };
    }
  }

  /**
   * One line per regular file, "<size> <mtime> <path relative to root>", read as `find` prints
   * them (back-pressured, so a folder of millions of files lists in constant memory); temporary
   * uploads are hidden files. Stopping early ends the command.
   */
  private async *findFiles(): AsyncGenerator<string> {
    const stop = new AbortController();
    const cmd = this.reach.exec(
      [
        "sh",
        "-c",
        '[ -d "$1" ] || exit 0; cd "$1" && find . -type f ! -name ".*.tmp" -printf "%s %T@ %P\\n"',
        "sh",
        this.root,
      ],
      { signal: stop.signal },
    );
    const decoder = new StringDecoder("utf8");
    let rest = "";
    let stopped = true;
    try {
      try {
        for await (const chunk of cmd.stdout) {
          const lines = (rest + decoder.write(chunk as Buffer)).split("\n");
          rest = lines.pop()!;
          yield* lines;
        }
      } catch {
        // the reason is in `exit`
      }
      stopped = false;
    } finally {
      // The reader stopped early: end the command.
      if (stopped) {
        stop.abort();
        cmd.exit.catch(() => {});
      }
    }
    const exit = await cmd.exit;
    if (exit.code !== 0)
      throw new AppError("UPSTREAM", `Listing ${this.root} on ${this.reach.label} failed: ${exit.stderrTail.trim()}`);
  }

  /** Temporary files a run's writes to `key` left: `.<name>.coffer-<run id>-<random>.tmp` (Reach.writeFile). */
  async removeLeftovers(key: string, runId: string): Promise<number> {
    const file = this.pathFor(key);
    const pattern = `.${globLiteral(path.posix.basename(file))}.coffer-${checkRunId(runId)}-*.tmp`;
    const dir = path.posix.dirname(file);
    const out = await this.run([
      "sh",
      "-c",
      '[ -d "$1" ] || exit 0; find "$1" -maxdepth 1 -type f -name "$2" -print -delete',
      "sh",
      dir,
      pattern,
    ]);
    return out.split("\n").filter(Boolean).length;
  }

  async room(): Promise<Room> {
    // The nearest folder that exists: the backup directory itself is created on the first write.
    const out = await this.run([
      "sh",
      "-c",
      'p=$1; while [ ! -e "$p" ]; do p=$(dirname -- "$p"); done; df -Pk -- "$p" | tail -n 1',
      "sh",
      this.root,
    ]);
    const freeKib = Number(out.trim().split(/\s+/)[3]);
    if (!Number.isFinite(freeKib))
      throw new AppError("UPSTREAM", `Could not read the free space of ${this.root} on ${this.reach.label}.`);
    return {
      largestObject: Infinity,
      why: `the disk holding ${this.root} on ${this.reach.label}`,
      freeBytes: freeKib * 1024,
    };
  }

  async setStorageClass(): Promise<void> {}

  /** Files read directly. */
  async retrieve(key: string): Promise<Retrieval> {
    if (!(await this.head(key)))
      throw new AppError("NOT_FOUND", `There is no object ${key} in ${this.root} on ${this.reach.label}.`);
    return { state: "ready" };
  }
}

import "server-only";
import type { PassThrough, Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { AppError } from "@/lib/errors";
import { firstLines, type RunningCommand } from "@/lib/reach";
import { compressorArgv, type Compressor } from "../compression";
import { MANIFEST_PATH, type Manifest, type ManifestEntry } from "../manifest";
import type { StartedJob } from "./job";
import { endOfArchive, fileHeader, padding } from "./tar-header";

export interface Spooled {
  entry: ManifestEntry;
  spool: string;
}

/**
 * Sends the archive as gzip members, one after the other (a `.gz` may hold several; every gunzip
 * reads them as one stream): the manifest with the first dump's tar header, framed here; each
 * dump's spool as the server compressed it, followed by a member with its padding and the next
 * header; then `tar | <compressor>` of the directory files, or the end-of-archive blocks.
 */
export async function streamArchive(
  job: StartedJob,
  o: { dir: string; manifest: Manifest; dumps: Spooled[]; lists: string[]; compressor: Compressor },
  out: PassThrough,
): Promise<void> {
  const { reach, signal } = job;
  const mtime = new Date(o.manifest.finishedAt);
  const manifest = Buffer.from(JSON.stringify(o.manifest, null, 2) + "\n");
  const header = (d: Spooled | undefined) => (d ? fileHeader(d.entry.path, d.entry.size, mtime) : Buffer.alloc(0));
  const tail = () => (o.lists.length ? Buffer.alloc(0) : endOfArchive());

  let frame = [fileHeader(MANIFEST_PATH, manifest.length, mtime), manifest, padding(manifest.length)];
  for (const d of o.dumps) {
    await write(out, member([...frame, header(d)]), signal);
    // `cat` over an exec channel: three times the throughput of SFTP (measured over OpenSSH on 127.0.0.1).
    await check(job, reach.exec(["cat", "--", d.spool], { signal }), out, `Reading the dump ${d.entry.path}`);
    frame = [padding(d.entry.size)];
  }
  await write(out, member([...frame, tail()]), signal);
  if (o.lists.length) {
    const tar = [
      "tar",
      "--create",
      "--file=-",
      "--format=gnu",
      "--null",
      "--no-recursion",
      ...o.lists.flatMap((l) => ["-T", l]),
    ];
    const cmd = reach.execPipeline([tar, compressorArgv(o.compressor)], { cwd: o.dir, signal });
    await check(
      job,
      cmd,
      out,
      "Archiving",
      " If files changed or vanished while being read, run the backup again or exclude them.",
    );
  }
}

const member = (parts: Buffer[]) => gzipSync(Buffer.concat(parts));

/** Writes `data` into `out`, waiting while `out` is full; rejects when the run stops meanwhile. */
function write(out: PassThrough, data: Buffer, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  if (out.write(data)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const done = (error?: unknown) => {
      out.off("drain", onDrain);
      out.off("close", onClose);
      signal.removeEventListener("abort", onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onDrain = () => done();
    const onClose = () => done(out.errored ?? new AppError("INTERNAL", "The archive stream was closed."));
    const onAbort = () => done(signal.reason);
    out.on("drain", onDrain);
    out.on("close", onClose);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Copies a command's output into `out` (which it does not end); rejects unless it exits 0. */
async function check(job: StartedJob, cmd: RunningCommand, out: PassThrough, what: string, hint = ""): Promise<void> {
  await Promise.all([forward(cmd.stdout, out), cmd.exit]);
  const exit = await cmd.exit;
  if (exit.code !== 0)
    throw new AppError(
      "UPSTREAM",
      `${what} on ${job.serverName} failed (exit ${exit.code ?? exit.signal}): ${firstLines(exit.stderrTail) || "no message"}.${hint}`,
    );
}

/** Copies `src` into `out` without ending it; resolves when `src` ended cleanly, rejects when it was cut off (cancel, lost connection). */
function forward(src: Readable, out: PassThrough): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    src.pipe(out, { end: false });
    src.once("end", () => resolve());
    src.once("error", (e) => reject(e));
    src.once("close", () => {
      if (!src.readableEnded) reject(src.errored ?? new AppError("UPSTREAM", "The archive stream was cut off."));
    });
  });
}

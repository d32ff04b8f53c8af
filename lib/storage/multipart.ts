import "server-only";
import { randomBytes } from "node:crypto";
import { open, statfs, unlink, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { AppError } from "@/lib/errors";
import { formatBytes } from "@/lib/format";
import type { PartLimits, PartPlan } from "./parts";
import type { Room } from "./types";

/**
 * Cuts a stream of unknown length into the parts a PartPlan chooses and uploads them, a few at a
 * time, each retried on its own when it fails. A part is held until it is uploaded: in memory up
 * to `memoryPartMax`, larger ones in an unlinked file on the Coffer host's disk (nothing is left
 * behind if the process dies). Memory stays below (queueSize + 1) × memoryPartMax per upload.
 */

const MiB = 1024 * 1024;

export interface MultipartTuning {
  /** Parts uploading at once (default 2); one more is filled meanwhile. */
  queueSize: number;
  /** Largest part held in memory (default 64 MiB); larger ones go to `spoolDir`. */
  memoryPartMax: number;
  /** Folder for parts above memoryPartMax (default: the system's temporary folder, TMPDIR). */
  spoolDir: string;
  /** Attempts per part (default 4). */
  attempts: number;
  /** Wait before retry n (1, 2, …): default 1 s, 2 s, 4 s. */
  retryDelayMs: (retry: number) => number;
}

const MULTIPART_DEFAULTS: Omit<MultipartTuning, "spoolDir"> = {
  queueSize: 2,
  memoryPartMax: 64 * MiB,
  attempts: 4,
  retryDelayMs: (n) => 1000 * 2 ** (n - 1),
};

/** Free space left for everything else on the spool's disk. */
const SPOOL_RESERVE = 256 * MiB;

export interface PartSender<T> {
  /** Called once, before the first part, when the object needs more than one request (start the multipart upload). */
  begin(): Promise<void>;
  /** Uploads part `number` (1-based) of `size` bytes; `body()` gives a fresh stream of them on every call. */
  send(number: number, size: number, body: () => Readable, signal: AbortSignal): Promise<T>;
}

export type MultipartOutcome<T> = { kind: "single"; data: Buffer } | { kind: "parts"; sizes: number[]; results: T[] };

interface HeldPart {
  size: number;
  write(chunk: Buffer): Promise<void>;
  body(): Readable;
  release(): Promise<void>;
}

function memoryPart(): HeldPart & { chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  const part = {
    chunks,
    size: 0,
    async write(chunk: Buffer) {
      chunks.push(chunk);
      part.size += chunk.length;
    },
    body: () => Readable.from(chunks),
    release: async () => {
      chunks.length = 0;
    },
  };
  return part;
}

async function spoolPart(dir: string, capacity: number): Promise<HeldPart> {
  const { bavail, bsize } = await statfs(dir);
  const free = bavail * bsize;
  if (free < capacity + SPOOL_RESERVE)
    throw new AppError(
      "UPSTREAM",
      `Not enough free space in ${dir} on the Coffer host for a ${formatBytes(capacity)} upload part (${formatBytes(free)} free, ${formatBytes(capacity + SPOOL_RESERVE)} needed). Free some space there, or set TMPDIR to a folder on a larger disk.`,
    );
  const file = path.join(dir, `coffer-part-${randomBytes(8).toString("hex")}`);
  const fh: FileHandle = await open(file, "wx+", 0o600);
  await unlink(file); // the data lives as long as the handle: nothing remains if the process dies
  const part: HeldPart = {
    size: 0,
    async write(chunk) {
      let done = 0;
      while (done < chunk.length) done += (await fh.write(chunk, done, chunk.length - done)).bytesWritten;
      part.size += chunk.length;
    },
    body: () =>
      part.size === 0 ? Readable.from([]) : fh.createReadStream({ start: 0, end: part.size - 1, autoClose: false }),
    release: () => fh.close(),
  };
  return part;
}

/** Whether a failed part is worth sending again: no answer, or an answer that says "later". */
function retryable(err: unknown): boolean {
  const e = err as { $metadata?: { httpStatusCode?: number }; statusCode?: number; status?: number };
  const status = e?.$metadata?.httpStatusCode ?? e?.statusCode ?? e?.status;
  if (err instanceof AppError) return false;
  return typeof status !== "number" || status >= 500 || status === 408 || status === 429 || status === 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Reads `source` to its end as parts of `plan`'s sizes. When everything fits in the first part
 * (held in memory), nothing is sent: the caller stores `data` in one request. Otherwise `begin`
 * runs, then every part is sent in order of reading, `queueSize` at once; a failing part is sent
 * again from what is held (`attempts` in all) while the others wait. The first part that still
 * fails aborts the rest and rejects; so does `signal`.
 */
export async function uploadInParts<T>(
  source: Readable,
  plan: PartPlan,
  sender: PartSender<T>,
  tuning: MultipartTuning,
  outer: AbortSignal,
): Promise<MultipartOutcome<T>> {
  const stop = new AbortController();
  const signal = AbortSignal.any([outer, stop.signal]);
  const inFlight = new Set<Promise<void>>();
  const sizes: number[] = [];
  const results: T[] = [];
  const held: HeldPart[] = [];
  let failure: { err: unknown } | undefined;
  let begun = false;

  const hold = async (): Promise<{ part: HeldPart & { chunks?: Buffer[] }; capacity: number }> => {
    const capacity = plan.next();
    if (capacity === undefined)
      throw new AppError(
        "UPSTREAM",
        `The object is larger than ${plan.limits.name} takes in one upload: ${plan.limits.maxParts.toLocaleString("en-US")} parts, ${formatBytes(plan.bytes)} in all. Nothing was kept.`,
      );
    const part = capacity <= tuning.memoryPartMax ? memoryPart() : await spoolPart(tuning.spoolDir, capacity);
    held.push(part);
    return { part, capacity };
  };

  const sendWithRetries = async (number: number, part: HeldPart) => {
    for (let attempt = 1; ; attempt++) {
      try {
        results[number - 1] = await sender.send(number, part.size, () => part.body(), signal);
        return;
      } catch (err) {
        if (signal.aborted || attempt >= tuning.attempts || !retryable(err)) throw err;
        await sleep(tuning.retryDelayMs(attempt), signal);
      }
    }
  };

  const dispatch = async (part: HeldPart) => {
    if (!begun) {
      begun = true;
      await sender.begin();
    }
    plan.add(part.size);
    sizes.push(part.size);
    const number = sizes.length;
    const p = sendWithRetries(number, part)
      .then(
        () => undefined,
        (err: unknown) => {
          failure ??= { err };
          stop.abort(err);
        },
      )
      .finally(() => {
        inFlight.delete(p);
        held.splice(held.indexOf(part), 1);
        return part.release();
      });
    inFlight.add(p);
    while (inFlight.size >= tuning.queueSize && !failure) await Promise.race(inFlight);
    if (failure) throw failure.err;
  };

  try {
    let current = await hold();
    // Leaving the loop early must not destroy `source`: its owner (meteredUpload) would take that for the source failing.
    for await (const chunk of source.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      signal.throwIfAborted();
      for (let offset = 0; offset < chunk.length;) {
        const n = Math.min(chunk.length - offset, current.capacity - current.part.size);
        await current.part.write(n === chunk.length ? chunk : chunk.subarray(offset, offset + n));
        offset += n;
        if (current.part.size === current.capacity) {
          await dispatch(current.part);
          current = await hold();
        }
      }
    }
    signal.throwIfAborted();
    const last = current.part;
    if (sizes.length === 0 && last.chunks) return { kind: "single", data: Buffer.concat(last.chunks) };
    if (last.size > 0 || sizes.length === 0) await dispatch(last);
    else await last.release().then(() => held.splice(held.indexOf(last), 1));
    while (inFlight.size && !failure) await Promise.race(inFlight);
    if (failure) throw failure.err;
    return { kind: "parts", sizes, results };
  } catch (err) {
    if (!stop.signal.aborted) stop.abort(err);
    await Promise.allSettled(inFlight);
    await Promise.allSettled(held.map((p) => p.release()));
    throw failure?.err ?? err;
  }
}

/** The space on the Coffer host's disk an upload of `expected` bytes holds parts in, and the space there: none while they fit in memory. */
export async function spoolFor(
  plan: PartPlan,
  expected: number | undefined,
  tuning: MultipartTuning,
): Promise<Room["spool"]> {
  if (!expected) return undefined;
  const largest = plan.largestPartFor(expected);
  if (largest <= tuning.memoryPartMax) return undefined;
  const { bavail, bsize } = await statfs(tuning.spoolDir);
  return { dir: tuning.spoolDir, bytes: (tuning.queueSize + 1) * largest, freeBytes: bavail * bsize };
}

/** Test-only settings of an adapter's uploads: lowered part limits, smaller buffers, quicker retries. */
export interface UploadTuning {
  limits?: Partial<PartLimits>;
  multipart?: Partial<MultipartTuning>;
}

export function uploadTuning(t: UploadTuning): MultipartTuning {
  return { ...MULTIPART_DEFAULTS, spoolDir: tmpdir(), ...t.multipart };
}

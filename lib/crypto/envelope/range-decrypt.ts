import "server-only";
import { Transform, type TransformCallback } from "node:stream";
import { AppError } from "../../errors";
import { formatCount } from "../../format";
import { damaged, tagLength, type ParsedHeader } from "./header";
import { openOnWorker, type OpenedReply } from "./open-worker";
import { segmentFailed } from "./segments";

// Downloads, restores and verifications read through here. Which segment is the object's final
// one follows from the index, so each segment is opened as soon as its last byte arrives, on a
// worker thread (open-worker.ts): the event loop only moves chunks.

/** Input sent to the worker at once, and the most not yet answered: enough to keep both threads busy. */
const batchBytes = 1024 * 1024;
const inFlightBytes = 4 * 1024 * 1024;

export interface RangeDecryptOptions {
  dek: Buffer;
  header: ParsedHeader;
  firstSegment: number;
  /** Index of the object's final segment. */
  lastSegmentIndex: number;
  skip: number;
  length: number;
}

class RangeDecryptStream extends Transform {
  private readonly job: ReturnType<typeof openOnWorker>;
  private batch: Buffer[] = [];
  private batched = 0;
  private inFlight = 0;
  /** The write or flush waiting for the worker to catch up (or to finish). */
  private waiting: TransformCallback | null = null;
  private flushing = false;
  private toSkip: number;
  private remaining: number;

  constructor(opts: RangeDecryptOptions) {
    const s = opts.header.segmentSize;
    super({ readableHighWaterMark: s, writableHighWaterMark: 2 * (s + tagLength) });
    const { firstSegment, lastSegmentIndex, skip, length } = opts;
    const ok = (n: number) => Number.isSafeInteger(n) && n >= 0;
    if (!ok(firstSegment) || !ok(lastSegmentIndex) || !ok(skip) || !ok(length) || length === 0 || skip >= s) {
      throw new AppError("VALIDATION", "The range to decrypt is not possible.");
    }
    const lastCovered = firstSegment + Math.floor((skip + length - 1) / s);
    if (lastCovered > lastSegmentIndex)
      throw new AppError("VALIDATION", "The range to decrypt runs past the end of the backup.");
    this.toSkip = skip;
    this.remaining = length;
    const { noncePrefix, hash } = opts.header;
    this.job = openOnWorker(
      { dek: opts.dek, noncePrefix, hash, segmentSize: s, firstSegment, lastSegmentIndex, lastCovered },
      { reply: (r) => this.answer(r), fail: (err) => this.destroy(err) },
    );
  }

  /** Hands on the verified plaintext the range asks for, then says what stopped the worker, if anything. */
  private answer(r: OpenedReply) {
    if (this.destroyed) return;
    for (const buffer of r.plain) {
      const piece = Buffer.from(buffer);
      const p = piece.subarray(this.toSkip, this.toSkip + this.remaining);
      this.toSkip = Math.max(0, this.toSkip - piece.length);
      this.remaining -= p.length;
      if (p.length > 0) this.push(p);
    }
    this.inFlight -= r.bytes;
    if (r.error) {
      const e = r.error;
      this.destroy(
        e.kind === "auth"
          ? segmentFailed(e.index)
          : e.kind === "truncated"
            ? damaged(`truncated: segment ${e.index} is cut short`)
            : damaged("data after the requested segments"),
      );
      return;
    }
    if (r.done) {
      const cb = this.waiting!;
      this.waiting = null;
      this.job.close();
      cb(
        this.remaining > 0
          ? damaged(`the range runs ${formatCount(this.remaining, "byte")} past the end of the final segment`)
          : null,
      );
    } else if (this.waiting && this.inFlight < inFlightBytes && !this.flushing) {
      const cb = this.waiting;
      this.waiting = null;
      cb();
    }
  }

  private sendBatch() {
    if (this.batched === 0) return;
    this.job.send(this.batch, this.batched);
    this.inFlight += this.batched;
    this.batch = [];
    this.batched = 0;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, cb: TransformCallback) {
    this.batch.push(chunk);
    this.batched += chunk.length;
    if (this.batched >= batchBytes) this.sendBatch();
    if (this.inFlight < inFlightBytes) cb();
    else this.waiting = cb;
  }

  override _flush(cb: TransformCallback) {
    this.sendBatch();
    this.flushing = true;
    this.waiting = cb;
    this.job.end();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void) {
    this.batch = [];
    this.job.close();
    cb(err);
  }
}

/**
 * The ciphertext of the segments `segmentRange` named (objectStart..objectEnd) in → exactly the
 * requested plaintext bytes out; each segment verified before any of its bytes are released.
 * Chunks written to it are handed over: one with memory of its own moves to the worker thread
 * (it is empty afterwards), so write only chunks nothing else still reads, as a storage stream's.
 */
export function createRangeDecryptStream(opts: RangeDecryptOptions): Transform {
  return new RangeDecryptStream(opts);
}

import "server-only";
import { webcrypto } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { AppError } from "../../errors";
import { damaged, tagLength, type ParsedHeader } from "./header";
import { SegmentCutter, segmentFailed, segmentNonce } from "./segments";
import { formatCount } from "../../format";

// Downloads and restores read through here, so it decrypts on the thread pool (WebCrypto's
// AES-GCM), several segments at once, and releases them in order: the event loop only cuts
// segments and hands plaintext on. WebCrypto returns plaintext only once the tag verified
// (docs/FORMAT.md, "Rules for readers").

/** Segments being decrypted at once: enough to keep the thread pool and the reader busy. */
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
  private readonly raw: Buffer;
  private key?: webcrypto.CryptoKey;
  private readonly cutter: SegmentCutter;
  private readonly lastCovered: number;
  private readonly inFlight: number;
  /** Segments started and not yet released, oldest first; each settles to its plaintext or its error. */
  private jobs: Promise<Buffer>[] = [];
  private index: number;
  private toSkip: number;
  private remaining: number;

  constructor(private readonly opts: RangeDecryptOptions) {
    const s = opts.header.segmentSize;
    super({ readableHighWaterMark: s, writableHighWaterMark: 2 * (s + tagLength) });
    const { firstSegment, lastSegmentIndex, skip, length } = opts;
    const ok = (n: number) => Number.isSafeInteger(n) && n >= 0;
    if (!ok(firstSegment) || !ok(lastSegmentIndex) || !ok(skip) || !ok(length) || length === 0 || skip >= s) {
      throw new AppError("VALIDATION", "The range to decrypt is not possible.");
    }
    this.lastCovered = firstSegment + Math.floor((skip + length - 1) / s);
    if (this.lastCovered > lastSegmentIndex)
      throw new AppError("VALIDATION", "The range to decrypt runs past the end of the backup.");
    this.raw = Buffer.from(opts.dek); // the caller wipes its copy; this one once the key is imported
    // Which segment is the final one follows from the index: no need to wait for more bytes. Every
    // segment gets its own memory: it is read on the thread pool after `start` returns.
    this.cutter = new SegmentCutter(s + tagLength, false, false);
    this.inFlight = Math.max(2, Math.ceil(inFlightBytes / s));
    this.index = firstSegment;
    this.toSkip = skip;
    this.remaining = length;
  }

  override _construct(cb: (error?: Error | null) => void) {
    webcrypto.subtle
      .importKey("raw", this.raw, "AES-GCM", false, ["decrypt"])
      .then((key) => void (this.key = key))
      .finally(() => this.raw.fill(0))
      .then(() => cb(), cb);
  }

  /** Starts decrypting the next segment. */
  private start(segment: Buffer) {
    const i = this.index++;
    const job =
      i > this.lastCovered ? Promise.reject(damaged("data after the requested segments")) : this.open(i, segment);
    job.catch(() => {}); // released (and its error raised) in order, by release()
    this.jobs.push(job);
  }

  private open(i: number, segment: Buffer): Promise<Buffer> {
    const params = {
      name: "AES-GCM",
      iv: segmentNonce(this.opts.header.noncePrefix, i, i === this.opts.lastSegmentIndex),
      additionalData: this.opts.header.hash,
      tagLength: tagLength * 8,
    };
    return webcrypto.subtle.decrypt(params, this.key!, segment).then(
      (plain) => Buffer.from(plain),
      () => Promise.reject(segmentFailed(i)),
    );
  }

  /** Hands on the oldest segments, in order, until at most `keep` are still being decrypted. */
  private async release(keep: number) {
    while (this.jobs.length > keep) {
      const plain = await this.jobs.shift()!;
      const p = plain.subarray(this.toSkip, this.toSkip + this.remaining);
      this.toSkip = Math.max(0, this.toSkip - plain.length);
      this.remaining -= p.length;
      if (p.length > 0) this.push(p);
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, cb: TransformCallback) {
    this.cutter.push(chunk, (s) => this.start(s));
    this.release(this.inFlight - 1).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback) {
    const rest = this.cutter.end();
    if (rest.length > 0 || this.index <= this.lastCovered) {
      // Only the object's final segment may be shorter than S + 16; it holds at least one byte.
      if (this.index <= this.lastCovered && (this.index < this.opts.lastSegmentIndex || rest.length <= tagLength)) {
        const i = this.index;
        this.jobs.push(Promise.reject(damaged(`truncated: segment ${i} is cut short`)));
        this.jobs.at(-1)!.catch(() => {});
      } else this.start(rest);
    }
    this.release(0)
      .then(() => {
        if (this.remaining > 0)
          throw damaged(`the range runs ${formatCount(this.remaining, "byte")} past the end of the final segment`);
      })
      .then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void) {
    this.raw.fill(0);
    this.jobs = [];
    cb(err);
  }
}

/**
 * The ciphertext of the segments `segmentRange` named (objectStart..objectEnd) in → exactly the
 * requested plaintext bytes out; each segment verified before any of its bytes are released.
 */
export function createRangeDecryptStream(opts: RangeDecryptOptions): Transform {
  return new RangeDecryptStream(opts);
}

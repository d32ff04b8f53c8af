import "server-only";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { AppError } from "../../errors";
import {
  checkSegmentSize,
  defaultSegmentSize,
  dekLength,
  encodeHeader,
  maxSegmentIndex,
  noncePrefixLength,
  tagLength,
  type WrappedDek,
} from "./header";
import { guarded, SegmentCutter, segmentNonce, sliced, type SegmentKeys } from "./segments";

export interface EncryptOptions {
  dek: Buffer;
  wrapped: WrappedDek;
  teamId: string;
  backupId: string;
  segmentSize?: number;
  /** Tests and known-answer vectors only: a fresh random prefix is used otherwise. */
  noncePrefix?: Buffer;
}

class EncryptStream extends Transform {
  private readonly header: Buffer;
  private readonly keys: SegmentKeys;
  private readonly cutter: SegmentCutter;
  private index = 0;
  private started = false;

  constructor(opts: EncryptOptions) {
    super();
    if (opts.dek.length !== dekLength) throw new AppError("VALIDATION", `A data key is ${dekLength} bytes.`);
    const s = checkSegmentSize(opts.segmentSize ?? defaultSegmentSize);
    // Hold one chunk back: only more input shows that a full chunk is not the final one.
    this.cutter = new SegmentCutter(s, true);
    const noncePrefix = opts.noncePrefix ?? randomBytes(noncePrefixLength);
    this.header = encodeHeader({
      segmentSize: s,
      noncePrefix,
      wrapped: opts.wrapped,
      teamId: opts.teamId,
      backupId: opts.backupId,
    });
    this.keys = { dek: Buffer.from(opts.dek), noncePrefix, hash: createHash("sha256").update(this.header).digest() };
  }

  private start() {
    if (this.started) return;
    this.started = true;
    this.push(this.header);
  }

  private seal(chunk: Buffer, last: boolean) {
    if (this.index > maxSegmentIndex)
      throw new AppError("VALIDATION", "The backup is too large for one object (more than 2^32 segments).");
    const cipher = createCipheriv("aes-256-gcm", this.keys.dek, segmentNonce(this.keys.noncePrefix, this.index, last), {
      authTagLength: tagLength,
    });
    cipher.setAAD(this.keys.hash);
    sliced(cipher, chunk, (c) => this.push(c));
    cipher.final(); // GCM returns no further bytes
    this.push(cipher.getAuthTag());
    this.index++;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, cb: TransformCallback) {
    guarded(cb, () => {
      this.start();
      this.cutter.push(chunk, (c) => this.seal(c, false));
    });
  }

  override _flush(cb: TransformCallback) {
    guarded(cb, () => {
      this.start();
      this.seal(this.cutter.end(), true);
    });
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void) {
    this.keys.dek.fill(0);
    cb(err);
  }
}

/** Plaintext in → the whole object (header and segments) out, in constant memory. */
export function createEncryptStream(opts: EncryptOptions): Transform {
  return new EncryptStream(opts);
}

import "server-only";
import { createDecipheriv } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { AppError } from "../../errors";
import { noncePrefixLength, tagLength } from "./header";

// What encrypting and decrypting share: byte queues without copies, nonces, opening one segment.

/** A queue of buffers that hands out exact byte counts as views, without copying. */
export class ByteQueue {
  private parts: Buffer[] = [];
  length = 0;

  push(b: Buffer) {
    if (b.length === 0) return;
    this.parts.push(b);
    this.length += b.length;
  }

  /** Exactly n bytes (n ≤ length) as views of the queued buffers. */
  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const p = this.parts[0]!;
      if (p.length <= need) {
        out.push(p);
        this.parts.shift();
        need -= p.length;
      } else {
        out.push(p.subarray(0, need));
        this.parts[0] = p.subarray(need);
        need = 0;
      }
    }
    this.length -= n;
    return out;
  }

  /** The first n bytes as one buffer (copied only when they span buffers); n ≤ length. */
  peek(n: number): Buffer {
    const first = this.parts[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.parts, this.length).subarray(0, n);
  }
}

/** A segment's ciphertext pieces and its tag (the last 16 bytes), copying only a tag split across pieces. */
export function splitTag(pieces: Buffer[]): { body: Buffer[]; tag: Buffer } {
  const last = pieces[pieces.length - 1]!;
  if (last.length >= tagLength) {
    const body = pieces.slice(0, -1);
    if (last.length > tagLength) body.push(last.subarray(0, last.length - tagLength));
    return { body, tag: last.subarray(last.length - tagLength) };
  }
  const q = new ByteQueue();
  for (const p of pieces) q.push(p);
  const body = q.take(q.length - tagLength);
  return { body, tag: Buffer.concat(q.take(tagLength)) };
}

export function segmentNonce(prefix: Buffer, index: number, last: boolean): Buffer {
  const nonce = Buffer.allocUnsafe(12);
  prefix.copy(nonce, 0);
  nonce.writeUInt32BE(index, noncePrefixLength);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

export interface SegmentKeys {
  dek: Buffer;
  noncePrefix: Buffer;
  hash: Buffer;
}

/** Decrypts one segment; the plaintext is returned only once the tag verified, otherwise null. */
export function openSegment(
  k: SegmentKeys,
  index: number,
  last: boolean,
  body: Buffer[],
  tag: Buffer,
): Buffer[] | null {
  const decipher = createDecipheriv("aes-256-gcm", k.dek, segmentNonce(k.noncePrefix, index, last), {
    authTagLength: tagLength,
  });
  decipher.setAAD(k.hash);
  decipher.setAuthTag(tag);
  const out: Buffer[] = [];
  for (const b of body) {
    const p = decipher.update(b);
    if (p.length > 0) out.push(p);
  }
  try {
    const f = decipher.final();
    if (f.length > 0) out.push(f);
  } catch {
    return null;
  }
  return out;
}

export const segmentFailed = (i: number) =>
  new AppError(
    "INTERNAL",
    `The backup object cannot be trusted: segment ${i} failed authentication (the object was altered, damaged or truncated, or the data key is wrong).`,
  );
export const truncatedAfter = (i: number) =>
  new AppError(
    "INTERNAL",
    `The backup object is truncated: it ends after segment ${i}, which is not the final segment.`,
  );

/** Runs a step and hands any error to the stream callback, which destroys the stream with it. */
export function guarded(cb: TransformCallback, step: () => void) {
  try {
    step();
  } catch (err) {
    cb(err as Error);
    return;
  }
  cb();
}

/**
 * A reader of segments: queues what arrives, opens every complete segment as it can
 * (`drain(false)`), the rest at the end (`drain(true)`), and wipes its data key when destroyed.
 */
export abstract class SegmentReader extends Transform {
  protected readonly queue = new ByteQueue();
  protected abstract drain(ending: boolean): void;
  protected abstract wipe(): void;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, cb: TransformCallback) {
    guarded(cb, () => {
      this.queue.push(chunk);
      this.drain(false);
    });
  }

  override _flush(cb: TransformCallback) {
    guarded(cb, () => this.drain(true));
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void) {
    this.wipe();
    cb(err);
  }
}

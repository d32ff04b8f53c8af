import "server-only";
import type { Transform } from "node:stream";
import { AppError } from "../../errors";
import { unwrapDek } from "../data-key";
import type { Keyring } from "../master-keys";
import {
  damaged,
  fixedLength,
  headerLengthFrom,
  maxSegmentIndex,
  readHeader,
  tagLength,
  type ParsedHeader,
} from "./header";
import { openSegment, SegmentReader, segmentFailed, splitTag, truncatedAfter, type SegmentKeys } from "./segments";

export interface DecryptOptions {
  keys: Keyring;
  /** When given, an object that names another team or backup is refused before anything is decrypted. */
  expect?: { teamId: string; backupId: string };
}

class DecryptStream extends SegmentReader {
  private header?: ParsedHeader;
  private keys?: SegmentKeys;
  private index = 0;

  constructor(private readonly opts: DecryptOptions) {
    super();
  }

  /** The parsed header, once it has been read. */
  get parsedHeader(): ParsedHeader | undefined {
    return this.header;
  }

  private readHeader(ending: boolean): boolean {
    const q = this.queue;
    const needed = q.length >= fixedLength ? headerLengthFrom(q.peek(fixedLength)) : fixedLength;
    if (q.length < needed) {
      if (ending) throw damaged("truncated inside the header");
      return false;
    }
    const h = readHeader(Buffer.concat(q.take(needed)));
    const expected = this.opts.expect;
    if (expected && (expected.teamId !== h.teamId || expected.backupId !== h.backupId)) {
      throw new AppError(
        "INTERNAL",
        `The stored object belongs to backup "${h.backupId}" of team "${h.teamId}", not to backup "${expected.backupId}" of team "${expected.teamId}".`,
      );
    }
    const dek = unwrapDek(h.wrapped, this.opts.keys, h.teamId, h.backupId);
    this.header = h;
    this.keys = { dek, noncePrefix: h.noncePrefix, hash: h.hash };
    this.emit("header", h);
    return true;
  }

  private open(last: boolean, pieces: Buffer[]) {
    const i = this.index;
    if (i > maxSegmentIndex) throw damaged("more than 2^32 segments");
    const { body, tag } = splitTag(pieces);
    const plain = openSegment(this.keys!, i, last, body, tag);
    if (!plain) {
      // Say why, when it can be told: the other flag verifying means a truncation or an extension.
      if (openSegment(this.keys!, i, !last, body, tag)) {
        throw last ? truncatedAfter(i) : damaged(`data after the final segment (segment ${i})`);
      }
      throw segmentFailed(i);
    }
    for (const p of plain) this.push(p);
    this.index++;
  }

  protected drain(ending: boolean) {
    if (!this.header && !this.readHeader(ending)) return;
    const full = this.header!.segmentSize + tagLength;
    // A full segment is known not to be the final one only once a further byte has arrived.
    while (this.queue.length > full) this.open(false, this.queue.take(full));
    if (!ending) return;
    const rest = this.queue.length;
    if (rest === 0 && this.index > 0) throw truncatedAfter(this.index - 1);
    if (rest < tagLength || (rest === tagLength && this.index > 0))
      throw damaged(`truncated: segment ${this.index} is cut short`);
    this.open(true, this.queue.take(rest));
  }

  protected wipe() {
    this.keys?.dek.fill(0);
  }
}

/**
 * The whole object in → its plaintext out. Unwraps the DEK named in the header with `keys`; fails
 * (destroying the stream) on anything altered, truncated or extended. Emits "header" with the
 * ParsedHeader once it has been verified to unwrap.
 */
export function createDecryptStream(opts: DecryptOptions): Transform {
  return new DecryptStream(opts);
}

export interface RangeDecryptOptions {
  dek: Buffer;
  header: ParsedHeader;
  firstSegment: number;
  /** Index of the object's final segment. */
  lastSegmentIndex: number;
  skip: number;
  length: number;
}

class RangeDecryptStream extends SegmentReader {
  private readonly keys: SegmentKeys;
  private readonly s: number;
  private readonly lastCovered: number;
  private index: number;
  private toSkip: number;
  private remaining: number;

  constructor(private readonly opts: RangeDecryptOptions) {
    super();
    const { header, firstSegment, lastSegmentIndex, skip, length } = opts;
    this.s = header.segmentSize;
    const ok = (n: number) => Number.isSafeInteger(n) && n >= 0;
    if (!ok(firstSegment) || !ok(lastSegmentIndex) || !ok(skip) || !ok(length) || length === 0 || skip >= this.s) {
      throw new AppError("VALIDATION", "The range to decrypt is not possible.");
    }
    this.lastCovered = firstSegment + Math.floor((skip + length - 1) / this.s);
    if (this.lastCovered > lastSegmentIndex)
      throw new AppError("VALIDATION", "The range to decrypt runs past the end of the backup.");
    this.keys = { dek: Buffer.from(opts.dek), noncePrefix: header.noncePrefix, hash: header.hash };
    this.index = firstSegment;
    this.toSkip = skip;
    this.remaining = length;
  }

  private open(last: boolean, pieces: Buffer[]) {
    const { body, tag } = splitTag(pieces);
    const plain = openSegment(this.keys, this.index, last, body, tag);
    if (!plain) throw segmentFailed(this.index);
    for (let p of plain) {
      if (this.toSkip >= p.length) {
        this.toSkip -= p.length;
        continue;
      }
      p = p.subarray(this.toSkip, this.toSkip + this.remaining);
      this.toSkip = 0;
      this.remaining -= p.length;
      if (p.length > 0) this.push(p);
    }
    this.index++;
  }

  protected drain(ending: boolean) {
    const full = this.s + tagLength;
    while (this.index <= this.lastCovered && this.index < this.opts.lastSegmentIndex && this.queue.length >= full) {
      this.open(false, this.queue.take(full));
    }
    if (this.index > this.lastCovered && this.queue.length > 0) throw damaged("data after the requested segments");
    if (!ending) return;
    if (this.index <= this.lastCovered) {
      const rest = this.queue.length;
      // Only the object's final segment may be shorter than S + 16; it holds at least one byte here.
      if (this.index < this.opts.lastSegmentIndex || rest <= tagLength)
        throw damaged(`truncated: segment ${this.index} is cut short`);
      this.open(true, this.queue.take(rest));
    }
    if (this.remaining > 0) throw damaged(`the range runs ${this.remaining} byte(s) past the end of the final segment`);
  }

  protected wipe() {
    this.keys.dek.fill(0);
  }
}

/**
 * The ciphertext of the segments `segmentRange` named (objectStart..objectEnd) in → exactly the
 * requested plaintext bytes out; each segment verified before any of its bytes are released.
 */
export function createRangeDecryptStream(opts: RangeDecryptOptions): Transform {
  return new RangeDecryptStream(opts);
}

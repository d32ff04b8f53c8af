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
import { openSegment, SegmentCutter, SegmentReader, segmentFailed, truncatedAfter, type SegmentKeys } from "./segments";

export interface DecryptOptions {
  keys: Keyring;
  /** When given, an object that names another team or backup is refused before anything is decrypted. */
  expect?: { teamId: string; backupId: string };
}

class DecryptStream extends SegmentReader {
  private head: Buffer[] = [];
  private headBytes = 0;
  private header?: ParsedHeader;
  private keys?: SegmentKeys;
  private cutter?: SegmentCutter;
  private index = 0;

  constructor(private readonly opts: DecryptOptions) {
    super();
  }

  /** The parsed header, once it has been read. */
  get parsedHeader(): ParsedHeader | undefined {
    return this.header;
  }

  /** Collects the header; once it is whole, returns the bytes after it (segments), else null. */
  private readHeader(chunk: Buffer | null): Buffer | null {
    if (chunk) {
      this.head.push(chunk);
      this.headBytes += chunk.length;
    }
    const first = this.headBytes >= fixedLength ? Buffer.concat(this.head) : null;
    const needed = first ? headerLengthFrom(first) : fixedLength;
    if (!first || this.headBytes < needed) {
      if (!chunk) throw damaged("truncated inside the header");
      if (first) this.head = [first];
      return null;
    }
    this.head = [];
    const h = readHeader(first);
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
    // A full segment is known not to be the final one only once a further byte has arrived.
    this.cutter = new SegmentCutter(h.segmentSize + tagLength, true);
    this.emit("header", h);
    return first.subarray(needed);
  }

  private open(last: boolean, segment: Buffer) {
    const i = this.index;
    if (i > maxSegmentIndex) throw damaged("more than 2^32 segments");
    const plain = openSegment(this.keys!, i, last, segment);
    if (!plain) {
      // Say why, when it can be told: the other flag verifying means a truncation or an extension.
      if (openSegment(this.keys!, i, !last, segment)) {
        throw last ? truncatedAfter(i) : damaged(`data after the final segment (segment ${i})`);
      }
      throw segmentFailed(i);
    }
    for (const p of plain) this.push(p);
    this.index++;
  }

  protected receive(chunk: Buffer) {
    const segments = this.cutter ? chunk : this.readHeader(chunk);
    if (segments) this.cutter!.push(segments, (s) => this.open(false, s));
  }

  protected finish() {
    if (!this.cutter) this.readHeader(null);
    const rest = this.cutter!.end();
    if (rest.length < tagLength || (rest.length === tagLength && this.index > 0))
      throw damaged(`truncated: segment ${this.index} is cut short`);
    this.open(true, rest);
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

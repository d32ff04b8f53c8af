import "server-only";
import type { Transform } from "node:stream";
import { AppError } from "../../errors";
import { formatCount } from "../../format";
import { WorkerStream, type WorkerKind } from "../worker-stream";
import { damaged, tagLength, type ParsedHeader } from "./header";
import { segmentFailed } from "./segments";

// Downloads, restores and verifications read through here. Which segment is the object's final
// one follows from the index, so each segment is opened as soon as its last byte arrives, on a
// worker thread (../worker-stream.ts): the event loop only moves chunks. As in segments.ts, the
// cipher takes 64 KiB slices (a larger output is a fresh memory mapping each time).

const openSegments: WorkerKind = {
  name: "envelope/open-segments",
  source: String.raw`
const { createDecipheriv } = require("node:crypto");
const slice = 64 * 1024;
const tagLength = ${tagLength};

function open(j, segment, out) {
  const i = j.index++;
  if (i > j.lastCovered) throw { kind: "after" };
  const nonce = Buffer.alloc(12);
  j.noncePrefix.copy(nonce, 0);
  nonce.writeUInt32BE(i, 7);
  nonce[11] = i === j.lastSegmentIndex ? 1 : 0;
  const d = createDecipheriv("aes-256-gcm", j.dek, nonce, { authTagLength: tagLength });
  d.setAAD(j.hash);
  const end = segment.length - tagLength;
  d.setAuthTag(segment.subarray(end));
  const plain = [];
  for (let o = 0; o < end; o += slice) plain.push(d.update(segment.subarray(o, Math.min(o + slice, end))));
  try {
    d.final();
  } catch {
    throw { kind: "auth", index: i };
  }
  out.push(...plain); // only once the tag verified
}

return {
  open: (m) => ({
    ...m,
    dek: Buffer.from(m.dek.buffer, m.dek.byteOffset, m.dek.length), // wiped by close
    noncePrefix: Buffer.from(m.noncePrefix),
    hash: Buffer.from(m.hash),
    buf: Buffer.alloc(m.segmentSize + tagLength),
    fill: 0,
    index: m.firstSegment,
  }),
  take(j, chunk, out) {
    for (let o = 0; o < chunk.length; ) {
      const n = chunk.copy(j.buf, j.fill, o);
      o += n;
      j.fill += n;
      if (j.fill === j.buf.length) {
        j.fill = 0;
        open(j, j.buf, out);
      }
    }
  },
  finish(j, out) {
    const rest = j.buf.subarray(0, j.fill);
    if (rest.length === 0 && j.index > j.lastCovered) return;
    // Only the object's final segment may be shorter than S + 16; it holds at least one byte.
    if (j.index <= j.lastCovered && (j.index < j.lastSegmentIndex || rest.length <= tagLength))
      throw { kind: "truncated", index: j.index };
    open(j, rest, out);
  },
  close(j) {
    j.dek.fill(0);
    j.buf.fill(0);
  },
};
`,
};

type Stop = { kind: "after" } | { kind: "auth" | "truncated"; index: number };

export interface RangeDecryptOptions {
  dek: Buffer;
  header: ParsedHeader;
  firstSegment: number;
  /** Index of the object's final segment. */
  lastSegmentIndex: number;
  skip: number;
  length: number;
}

class RangeDecryptStream extends WorkerStream {
  private toSkip: number;
  private remaining: number;

  constructor(opts: RangeDecryptOptions) {
    const s = opts.header.segmentSize;
    const { firstSegment, lastSegmentIndex, skip, length } = opts;
    const ok = (n: number) => Number.isSafeInteger(n) && n >= 0;
    if (!ok(firstSegment) || !ok(lastSegmentIndex) || !ok(skip) || !ok(length) || length === 0 || skip >= s) {
      throw new AppError("VALIDATION", "The range to decrypt is not possible.");
    }
    const lastCovered = firstSegment + Math.floor((skip + length - 1) / s);
    if (lastCovered > lastSegmentIndex)
      throw new AppError("VALIDATION", "The range to decrypt runs past the end of the backup.");
    const { noncePrefix, hash } = opts.header;
    super(
      openSegments,
      { dek: opts.dek, noncePrefix, hash, segmentSize: s, firstSegment, lastSegmentIndex, lastCovered },
      true,
      { readableHighWaterMark: s, writableHighWaterMark: 2 * (s + tagLength) },
    );
    this.toSkip = skip;
    this.remaining = length;
  }

  /** Hands on the part of the verified plaintext the range asks for. */
  protected override output(piece: Buffer) {
    const p = piece.subarray(this.toSkip, this.toSkip + this.remaining);
    this.toSkip = Math.max(0, this.toSkip - piece.length);
    this.remaining -= p.length;
    if (p.length > 0) this.push(p);
  }

  protected failed(error: unknown): Error {
    const e = error as Stop;
    return e.kind === "auth"
      ? segmentFailed(e.index)
      : e.kind === "truncated"
        ? damaged(`truncated: segment ${e.index} is cut short`)
        : damaged("data after the requested segments");
  }

  protected override ended(): Error | null {
    return this.remaining > 0
      ? damaged(`the range runs ${formatCount(this.remaining, "byte")} past the end of the final segment`)
      : null;
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

import "server-only";
import { AppError } from "../../errors";
import { checkSegmentSize, damaged, tagLength } from "./header";

// Object sizes, and the ciphertext a plaintext range needs (segments are S + 16 bytes, the final one shorter).

export function segmentCount(plainSize: number, s: number): number {
  return plainSize === 0 ? 1 : Math.ceil(plainSize / s);
}

export function encryptedSize(plainSize: number, headerLength: number, s: number): number {
  if (!Number.isSafeInteger(plainSize) || plainSize < 0)
    throw new AppError("VALIDATION", `Impossible plaintext size ${plainSize}.`);
  return headerLength + plainSize + tagLength * segmentCount(plainSize, checkSegmentSize(s));
}

/** The plaintext size of an object of `objectSize` bytes; throws when no object can have that size. */
export function plaintextSize(objectSize: number, headerLength: number, s: number): number {
  checkSegmentSize(s);
  const body = objectSize - headerLength;
  const full = Math.floor(body / (s + tagLength));
  const rest = body - full * (s + tagLength);
  if (!Number.isSafeInteger(objectSize) || body < tagLength)
    throw damaged(`an object of ${objectSize} bytes is truncated (header ${headerLength} bytes)`);
  if (rest === 0) return full * s;
  if (rest === tagLength && full === 0) return 0;
  if (rest <= tagLength)
    throw damaged(
      `an object of ${objectSize} bytes cannot end on a segment boundary with segment size ${s}: it is truncated or extended`,
    );
  return full * s + rest - tagLength;
}

export interface SegmentRange {
  /** First ciphertext byte to fetch (inclusive), an offset into the object. */
  objectStart: number;
  /** Last ciphertext byte to fetch (inclusive, as in an HTTP Range header). */
  objectEnd: number;
  firstSegment: number;
  /** Plaintext bytes of the first segment to drop before the requested range begins. */
  skip: number;
  /** Plaintext bytes requested: end − start + 1. */
  length: number;
  /** Index of the object's final segment (for createRangeDecryptStream). */
  lastSegmentIndex: number;
}

/** Which ciphertext bytes a plaintext range (inclusive end) needs. Throws VALIDATION outside the plaintext. */
export function segmentRange(
  range: { start: number; end: number },
  headerLength: number,
  s: number,
  objectSize: number,
): SegmentRange {
  const size = plaintextSize(objectSize, headerLength, s);
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end >= size) {
    throw new AppError("VALIDATION", `The range ${start}-${end} is outside the backup's ${size} bytes.`);
  }
  const firstSegment = Math.floor(start / s);
  const lastCovered = Math.floor(end / s);
  return {
    objectStart: headerLength + firstSegment * (s + tagLength),
    objectEnd: Math.min(headerLength + (lastCovered + 1) * (s + tagLength), objectSize) - 1,
    firstSegment,
    skip: start - firstSegment * s,
    length: end - start + 1,
    lastSegmentIndex: segmentCount(size, s) - 1,
  };
}

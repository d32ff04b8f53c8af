// Streaming envelope encryption of backup objects (docs/FORMAT.md, format v1).
export {
  defaultSegmentSize,
  maxHeaderLength,
  maxSegmentSize,
  minSegmentSize,
  readHeader,
  type ParsedHeader,
  type WrappedDek,
} from "./header";
export { encryptedSize, plaintextSize, segmentRange, type SegmentRange } from "./sizes";
export { createEncryptStream, type EncryptOptions } from "./encrypt";
export {
  createDecryptStream,
  createRangeDecryptStream,
  type DecryptOptions,
  type RangeDecryptOptions,
} from "./decrypt";

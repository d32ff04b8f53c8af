// Streaming envelope encryption of backup objects (docs/FORMAT.md, format v1).
export { maxHeaderLength, readHeader, type ParsedHeader, type WrappedDek } from "./header";
export { encryptedSize, plaintextSize, segmentRange } from "./sizes";
export { createEncryptStream } from "./encrypt";
export { createDecryptStream } from "./decrypt";
export { createRangeDecryptStream } from "./range-decrypt";

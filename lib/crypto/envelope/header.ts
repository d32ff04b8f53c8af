import "server-only";
import { createHash } from "node:crypto";
import { AppError } from "../../errors";
import { formatCount } from "../../format";

// Format v1 of docs/FORMAT.md. `headerLength` always means the whole header in bytes, magic
// included: the offset at which segment 0 starts (the length field stored is headerLength − 12).

/** What the backup row stores next to the object (the header holds the same bytes). */
export interface WrappedDek {
  keyId: string;
  wrapped: Buffer;
}

export interface ParsedHeader {
  version: 1;
  /** Bytes of the whole header, magic included; segment 0 starts here. */
  headerLength: number;
  segmentSize: number;
  noncePrefix: Buffer;
  keyId: string;
  teamId: string;
  backupId: string;
  wrapped: WrappedDek;
  /** SHA-256 of the header bytes: the associated data of every segment. */
  hash: Buffer;
}

export const defaultSegmentSize = 1024 * 1024;
export const minSegmentSize = 4 * 1024;
export const maxSegmentSize = 16 * 1024 * 1024;
export const tagLength = 16;
export const dekLength = 32;
export const wrapNonceLength = 12;
export const wrappedLength = wrapNonceLength + dekLength + tagLength;
export const noncePrefixLength = 7;
export const fixedLength = 12; // magic + header length field
export const maxKeyIdBytes = 64;
export const maxIdBytes = 255;
export const maxSegmentIndex = 0xffffffff;
const magic = Buffer.from("COFFER\0\x01", "latin1");
/** The largest header v1 allows; fetching this many bytes always covers the header. */
export const maxHeaderLength =
  fixedLength + 4 + noncePrefixLength + (1 + maxKeyIdBytes) + 2 * (1 + maxIdBytes) + (2 + wrappedLength);

const utf8 = new TextDecoder("utf-8", { fatal: true });

export const damaged = (what: string) =>
  new AppError("INTERNAL", `The backup object is damaged or not a Coffer backup: ${what}.`);

export function checkId(what: string, value: string, max: number): Buffer {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length === 0 || bytes.length > max || value.includes("\0")) {
    throw new AppError("VALIDATION", `The ${what} must be 1 to ${max} bytes of UTF-8 without NUL characters.`);
  }
  return bytes;
}

export function checkSegmentSize(s: number): number {
  if (!Number.isInteger(s) || s < minSegmentSize || s > maxSegmentSize) {
    throw new AppError(
      "VALIDATION",
      `The segment size must be a whole number of bytes from ${minSegmentSize} to ${maxSegmentSize}, not ${s}.`,
    );
  }
  return s;
}

export function encodeHeader(f: {
  segmentSize: number;
  noncePrefix: Buffer;
  wrapped: WrappedDek;
  teamId: string;
  backupId: string;
}): Buffer {
  const keyId = checkId("master key id", f.wrapped.keyId, maxKeyIdBytes);
  const team = checkId("team id", f.teamId, maxIdBytes);
  const backup = checkId("backup id", f.backupId, maxIdBytes);
  if (f.wrapped.wrapped.length !== wrappedLength)
    throw new AppError("VALIDATION", `A wrapped data key is ${wrappedLength} bytes.`);
  if (f.noncePrefix.length !== noncePrefixLength)
    throw new AppError("VALIDATION", `The nonce prefix is ${noncePrefixLength} bytes.`);
  const fieldsLength =
    4 + noncePrefixLength + 1 + keyId.length + 1 + team.length + 1 + backup.length + 2 + wrappedLength;
  const out = Buffer.alloc(fixedLength + fieldsLength);
  let o = magic.copy(out, 0);
  o = out.writeUInt32BE(fieldsLength, o);
  o = out.writeUInt32BE(f.segmentSize, o);
  o += f.noncePrefix.copy(out, o);
  for (const field of [keyId, team, backup]) {
    o = out.writeUInt8(field.length, o);
    o += field.copy(out, o);
  }
  o = out.writeUInt16BE(wrappedLength, o);
  o += f.wrapped.wrapped.copy(out, o);
  if (o !== out.length) throw new Error("header length mismatch");
  return out;
}

/** From the first 12 bytes: checks magic and version, returns the whole header length. */
export function headerLengthFrom(first: Buffer): number {
  if (!first.subarray(0, 7).equals(magic.subarray(0, 7))) throw damaged("bad magic (it does not start with COFFER)");
  if (first[7] !== magic[7]) {
    throw new AppError(
      "INTERNAL",
      `The backup object has unknown format version ${first[7]}; this Coffer reads version 1. Upgrade Coffer to read it.`,
    );
  }
  const fieldsLength = first.readUInt32BE(8);
  if (fieldsLength > maxHeaderLength - fixedLength) throw damaged(`impossible header length ${fieldsLength}`);
  return fixedLength + fieldsLength;
}

/** Parses the header at the start of `buf` (which may hold more of the object). Checks structure only, not keys. */
export function readHeader(buf: Buffer): ParsedHeader {
  if (buf.length < fixedLength) throw damaged("truncated inside the header");
  const headerLength = headerLengthFrom(buf);
  if (buf.length < headerLength) throw damaged("truncated inside the header");
  const header = buf.subarray(0, headerLength);
  let o = fixedLength;
  const need = (n: number, what: string) => {
    if (o + n > headerLength) throw damaged(`the ${what} runs past the header length`);
  };
  need(4 + noncePrefixLength, "segment size");
  const segmentSize = header.readUInt32BE(o);
  o += 4;
  if (segmentSize < minSegmentSize || segmentSize > maxSegmentSize)
    throw damaged(`impossible segment size ${segmentSize}`);
  const noncePrefix = Buffer.from(header.subarray(o, o + noncePrefixLength));
  o += noncePrefixLength;
  const text = (what: string, max: number) => {
    need(1, what);
    const n = header[o++]!;
    if (n === 0 || n > max) throw damaged(`impossible ${what} length ${n}`);
    need(n, what);
    const bytes = header.subarray(o, (o += n));
    try {
      const s = utf8.decode(bytes);
      if (s.includes("\0")) throw new Error();
      return s;
    } catch {
      throw damaged(`the ${what} is not valid text`);
    }
  };
  const keyId = text("master key id", maxKeyIdBytes);
  const teamId = text("team id", maxIdBytes);
  const backupId = text("backup id", maxIdBytes);
  need(2, "wrapped data key");
  const n = header.readUInt16BE(o);
  o += 2;
  if (n !== wrappedLength) throw damaged(`the wrapped data key is ${n} bytes, not ${wrappedLength}`);
  need(n, "wrapped data key");
  const wrapped = Buffer.from(header.subarray(o, (o += n)));
  if (o !== headerLength) throw damaged(`${formatCount(headerLength - o, "unexpected byte")} at the end of the header`);
  return {
    version: 1,
    headerLength,
    segmentSize,
    noncePrefix,
    keyId,
    teamId,
    backupId,
    wrapped: { keyId, wrapped },
    hash: createHash("sha256").update(header).digest(),
  };
}

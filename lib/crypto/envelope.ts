import "server-only";
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { AppError } from "../errors";
import type { Keyring } from "./master-keys";

// Streaming envelope encryption of backup objects: format v1 of the design in FORMAT.md.
//
//   header  = magic "COFFER\0\x01" ‖ u32 length of the fields below ‖ u32 S ‖ nonce prefix (7)
//             ‖ u8+key id ‖ u8+team id ‖ u8+backup id ‖ u16+wrapped DEK
//   segment = AES-256-GCM(DEK, nonce prefix ‖ u32(i) ‖ last flag, aad = SHA-256(header), chunk i) ‖ tag
//
// Throughout this module `headerLength` means the whole header in bytes, magic included: the
// offset at which segment 0 starts. The length field stored in the header is headerLength − 12.

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
const tagLength = 16;
const dekLength = 32;
const wrapNonceLength = 12;
const wrappedLength = wrapNonceLength + dekLength + tagLength;
const noncePrefixLength = 7;
const fixedLength = 12; // magic + header length field
const maxKeyIdBytes = 64;
const maxIdBytes = 255;
const maxSegmentIndex = 0xffffffff;
const magic = Buffer.from("COFFER\0\x01", "latin1");
/** The largest header v1 allows; fetching this many bytes always covers the header. */
export const maxHeaderLength =
  fixedLength + 4 + noncePrefixLength + (1 + maxKeyIdBytes) + 2 * (1 + maxIdBytes) + (2 + wrappedLength);

const utf8 = new TextDecoder("utf-8", { fatal: true });

const damaged = (what: string) =>
  new AppError("INTERNAL", `The backup object is damaged or not a Coffer backup: ${what}.`);

function checkId(what: string, value: string, max: number): Buffer {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length === 0 || bytes.length > max || value.includes("\0")) {
    throw new AppError("VALIDATION", `The ${what} must be 1 to ${max} bytes of UTF-8 without NUL characters.`);
  }
  return bytes;
}

function checkSegmentSize(s: number): number {
  if (!Number.isInteger(s) || s < minSegmentSize || s > maxSegmentSize) {
    throw new AppError(
      "VALIDATION",
      `The segment size must be a whole number of bytes from ${minSegmentSize} to ${maxSegmentSize}, not ${s}.`,
    );
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Data keys

/** A fresh data encryption key: 32 random bytes, one per object. */
export function newDataKey(): Buffer {
  return randomBytes(dekLength);
}

function dekAad(teamId: string, backupId: string): Buffer {
  return Buffer.from(`coffer/dek/v1\0${teamId}\0${backupId}`, "utf8");
}

/** Wraps a DEK under the active master key, bound to the team and backup it belongs to. */
export function wrapDek(dek: Buffer, keys: Keyring, teamId: string, backupId: string): WrappedDek {
  if (dek.length !== dekLength) throw new AppError("VALIDATION", `A data key is ${dekLength} bytes.`);
  checkId("team id", teamId, maxIdBytes);
  checkId("backup id", backupId, maxIdBytes);
  const nonce = randomBytes(wrapNonceLength);
  const cipher = createCipheriv("aes-256-gcm", keys.active.key, nonce, { authTagLength: tagLength });
  cipher.setAAD(dekAad(teamId, backupId));
  const wrapped = Buffer.concat([nonce, cipher.update(dek), cipher.final(), cipher.getAuthTag()]);
  return { keyId: keys.active.id, wrapped };
}

/** Opens a wrapped DEK with the master key it names; refuses one that belongs to another backup. */
export function unwrapDek(w: WrappedDek, keys: Keyring, teamId: string, backupId: string): Buffer {
  const master = keys.byId.get(w.keyId);
  if (!master) {
    throw new AppError(
      "INTERNAL",
      `Backup "${backupId}" was encrypted under master key "${w.keyId}", which is not configured. Add that key to MASTER_KEYS.`,
    );
  }
  if (w.wrapped.length !== wrappedLength) {
    throw new AppError(
      "INTERNAL",
      `The wrapped data key of backup "${backupId}" is ${w.wrapped.length} bytes, not ${wrappedLength}: it is damaged.`,
    );
  }
  try {
    const decipher = createDecipheriv("aes-256-gcm", master.key, w.wrapped.subarray(0, wrapNonceLength), {
      authTagLength: tagLength,
    });
    decipher.setAAD(dekAad(teamId, backupId));
    decipher.setAuthTag(w.wrapped.subarray(wrappedLength - tagLength));
    return Buffer.concat([
      decipher.update(w.wrapped.subarray(wrapNonceLength, wrappedLength - tagLength)),
      decipher.final(),
    ]);
  } catch {
    throw new AppError(
      "INTERNAL",
      `The data key of backup "${backupId}" (team "${teamId}") did not unwrap with master key "${w.keyId}": the key is wrong, or the wrapped DEK does not belong to this backup.`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Header

function encodeHeader(f: {
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
function headerLengthFrom(first: Buffer): number {
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
  if (o !== headerLength) throw damaged(`${headerLength - o} unexpected byte(s) at the end of the header`);
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

// ---------------------------------------------------------------------------------------------
// Sizes and ranges

function segmentCount(plainSize: number, s: number): number {
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

// ---------------------------------------------------------------------------------------------
// Streams

/** A queue of buffers that hands out exact byte counts as views, without copying. */
class ByteQueue {
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
function splitTag(pieces: Buffer[]): { body: Buffer[]; tag: Buffer } {
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

function segmentNonce(prefix: Buffer, index: number, last: boolean): Buffer {
  const nonce = Buffer.allocUnsafe(12);
  prefix.copy(nonce, 0);
  nonce.writeUInt32BE(index, noncePrefixLength);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

interface SegmentKeys {
  dek: Buffer;
  noncePrefix: Buffer;
  hash: Buffer;
}

/** Decrypts one segment; the plaintext is returned only once the tag verified, otherwise null. */
function openSegment(k: SegmentKeys, index: number, last: boolean, body: Buffer[], tag: Buffer): Buffer[] | null {
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

const segmentFailed = (i: number) =>
  new AppError(
    "INTERNAL",
    `The backup object cannot be trusted: segment ${i} failed authentication (the object was altered, damaged or truncated, or the data key is wrong).`,
  );
const truncatedAfter = (i: number) =>
  new AppError(
    "INTERNAL",
    `The backup object is truncated: it ends after segment ${i}, which is not the final segment.`,
  );

/** Runs a step and hands any error to the stream callback, which destroys the stream with it. */
function guarded(cb: TransformCallback, step: () => void) {
  try {
    step();
  } catch (err) {
    cb(err as Error);
    return;
  }
  cb();
}

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
  private readonly s: number;
  private readonly queue = new ByteQueue();
  private index = 0;
  private started = false;

  constructor(opts: EncryptOptions) {
    super();
    if (opts.dek.length !== dekLength) throw new AppError("VALIDATION", `A data key is ${dekLength} bytes.`);
    this.s = checkSegmentSize(opts.segmentSize ?? defaultSegmentSize);
    const noncePrefix = opts.noncePrefix ?? randomBytes(noncePrefixLength);
    this.header = encodeHeader({
      segmentSize: this.s,
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

  private seal(pieces: Buffer[], last: boolean) {
    if (this.index > maxSegmentIndex)
      throw new AppError("VALIDATION", "The backup is too large for one object (more than 2^32 segments).");
    const cipher = createCipheriv("aes-256-gcm", this.keys.dek, segmentNonce(this.keys.noncePrefix, this.index, last), {
      authTagLength: tagLength,
    });
    cipher.setAAD(this.keys.hash);
    for (const p of pieces) this.push(cipher.update(p));
    const f = cipher.final();
    if (f.length > 0) this.push(f);
    this.push(cipher.getAuthTag());
    this.index++;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, cb: TransformCallback) {
    guarded(cb, () => {
      this.start();
      this.queue.push(chunk);
      // Hold one chunk back: only more input shows that a full chunk is not the final one.
      while (this.queue.length > this.s) this.seal(this.queue.take(this.s), false);
    });
  }

  override _flush(cb: TransformCallback) {
    guarded(cb, () => {
      this.start();
      this.seal(this.queue.take(this.queue.length), true);
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

export interface DecryptOptions {
  keys: Keyring;
  /** When given, an object that names another team or backup is refused before anything is decrypted. */
  expect?: { teamId: string; backupId: string };
}

/**
 * A reader of segments: queues what arrives, opens every complete segment as it can
 * (`drain(false)`), the rest at the end (`drain(true)`), and wipes its data key when destroyed.
 */
abstract class SegmentReader extends Transform {
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

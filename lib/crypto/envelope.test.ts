import { execFile } from "node:child_process";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable, Writable, type Transform } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { afterAll, describe, expect, it } from "vitest";
import { AppError } from "../errors";
import { newDataKey, unwrapDek, wrapDek } from "./data-key";
import {
  createDecryptStream,
  createEncryptStream,
  createRangeDecryptStream,
  encryptedSize,
  plaintextSize,
  readHeader,
  segmentRange,
  type WrappedDek,
} from "./envelope";
import vectors from "./envelope-vectors.json";
import { parseMasterKeys, type Keyring } from "./master-keys";

const KiB = 1024;
const MiB = 1024 * KiB;
const S = 4096;
const team = "team_a";
const backup = "bkp_1";

const ring = (spec: string): Keyring => {
  const keys = parseMasterKeys(spec);
  return { active: keys[0]!, byId: new Map(keys.map((k) => [k.id, k])), source: "MASTER_KEYS" };
};
const k1Secret = randomBytes(32).toString("base64");
const keys = ring(`k1:${k1Secret}`);

function* chunks(buf: Buffer, size: number) {
  for (let o = 0; o < buf.length; o += size) yield buf.subarray(o, o + size);
}

/** Runs `input` (fed in chunks of `chunk` bytes) through a transform; collects what came out before any error. */
async function run(stream: Transform, input: Buffer, chunk = 64 * KiB): Promise<{ out: Buffer; err?: unknown }> {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(b: Buffer, _e, cb) {
      parts.push(b);
      cb();
    },
  });
  try {
    await pipeline(Readable.from(chunks(input, chunk)), stream, sink);
    return { out: Buffer.concat(parts) };
  } catch (err) {
    expect(stream.destroyed).toBe(true);
    return { out: Buffer.concat(parts), err };
  }
}

async function ok(stream: Transform, input: Buffer, chunk?: number): Promise<Buffer> {
  const r = await run(stream, input, chunk);
  if (r.err) throw r.err;
  return r.out;
}

interface Sealed {
  obj: Buffer;
  dek: Buffer;
  wrapped: WrappedDek;
}

async function seal(
  plain: Buffer,
  o: { segmentSize?: number; chunk?: number; teamId?: string; backupId?: string; keys?: Keyring } = {},
): Promise<Sealed> {
  const teamId = o.teamId ?? team;
  const backupId = o.backupId ?? backup;
  const dek = newDataKey();
  const wrapped = wrapDek(dek, o.keys ?? keys, teamId, backupId);
  const obj = await ok(
    createEncryptStream({ dek, wrapped, teamId, backupId, segmentSize: o.segmentSize ?? S }),
    plain,
    o.chunk,
  );
  return { obj, dek, wrapped };
}

const open = (obj: Buffer, o: { keys?: Keyring; expect?: { teamId: string; backupId: string }; chunk?: number } = {}) =>
  run(createDecryptStream({ keys: o.keys ?? keys, expect: o.expect }), obj, o.chunk);

async function rejects(obj: Buffer, message: RegExp, o: Parameters<typeof open>[1] = {}): Promise<Buffer> {
  const { out, err } = await open(obj, o);
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).message).toMatch(message);
  expect(["INTERNAL", "VALIDATION"]).toContain((err as AppError).code);
  expect((err as AppError).message).not.toContain(k1Secret);
  return out;
}

/** The segments of an object, as views. */
function split(obj: Buffer, s = S) {
  const h = readHeader(obj);
  const segs: Buffer[] = [];
  for (let o = h.headerLength; o < obj.length; o += s + 16) segs.push(obj.subarray(o, o + s + 16));
  return { header: obj.subarray(0, h.headerLength), parsed: h, segs };
}

/** Test-only: what only a holder of the DEK could do — seal a chunk as segment i with a chosen last flag. */
function forgeSegment(
  dek: Buffer,
  noncePrefix: Buffer,
  headerHash: Buffer,
  i: number,
  last: boolean,
  chunk: Buffer,
): Buffer {
  const nonce = Buffer.alloc(12);
  noncePrefix.copy(nonce);
  nonce.writeUInt32BE(i, 7);
  nonce[11] = last ? 1 : 0;
  const c = createCipheriv("aes-256-gcm", dek, nonce);
  c.setAAD(headerHash);
  return Buffer.concat([c.update(chunk), c.final(), c.getAuthTag()]);
}

const pattern = (n: number) => randomBytes(n);

describe("envelope: round trips", () => {
  const sizes = (s: number) => [0, 1, s - 1, s, s + 1, 3 * s, 3 * s + 1];

  it.each([1, 7, 4096 + 5, 64 * KiB])("S = 4096, every size, input fed in %i-byte chunks", async (chunk) => {
    for (const n of sizes(S)) {
      const plain = pattern(n);
      const { obj } = await seal(plain, { chunk });
      const h = readHeader(obj);
      expect(obj.length).toBe(encryptedSize(n, h.headerLength, S));
      expect(plaintextSize(obj.length, h.headerLength, S)).toBe(n);
      expect(h.segmentSize).toBe(S);
      const segments = n === 0 ? 1 : Math.ceil(n / S);
      expect(obj.length - h.headerLength).toBe(n + 16 * segments);
      const { out, err } = await open(obj, { chunk });
      expect(err).toBeUndefined();
      expect(out.equals(plain)).toBe(true);
    }
  });

  it.each([MiB + 3, 64 * KiB])("default S = 1 MiB, every size, fed in %i-byte chunks", async (chunk) => {
    for (const n of sizes(MiB)) {
      const plain = pattern(n);
      const dek = newDataKey();
      const wrapped = wrapDek(dek, keys, team, backup);
      const obj = await ok(createEncryptStream({ dek, wrapped, teamId: team, backupId: backup }), plain, chunk);
      const h = readHeader(obj);
      expect(h.segmentSize).toBe(MiB);
      expect(obj.length).toBe(encryptedSize(n, h.headerLength, MiB));
      expect(
        (await ok(createDecryptStream({ keys, expect: { teamId: team, backupId: backup } }), obj, chunk)).equals(plain),
      ).toBe(true);
    }
  });

  it("uses a fresh nonce prefix and DEK per object, and opens objects under an older configured key", async () => {
    const plain = pattern(100);
    const a = await seal(plain);
    const b = await seal(plain);
    expect(readHeader(a.obj).noncePrefix.equals(readHeader(b.obj).noncePrefix)).toBe(false);
    expect(a.obj.subarray(-116).equals(b.obj.subarray(-116))).toBe(false);
    const rotated = ring(`k2:${randomBytes(32).toString("base64")},k1:${k1Secret}`);
    expect((await ok(createDecryptStream({ keys: rotated }), a.obj)).equals(plain)).toBe(true);
  });

  it("sizes: plaintextSize inverts encryptedSize and refuses impossible object sizes", () => {
    for (const s of [S, MiB]) {
      for (const n of [0, 1, 2, s - 1, s, s + 1, 2 * s, 5 * s + 7])
        expect(plaintextSize(encryptedSize(n, 100, s), 100, s)).toBe(n);
    }
    expect(() => plaintextSize(100 + 15, 100, S)).toThrow(/truncated/);
    expect(() => plaintextSize(100 + S + 16 + 16, 100, S)).toThrow(/truncated or extended/);
    expect(() => plaintextSize(100 + S + 16 + 5, 100, S)).toThrow(AppError);
    expect(() => encryptedSize(1, 100, 1000)).toThrow(/segment size/);
  });
});

describe("envelope: rejection", () => {
  const plain = pattern(3 * S + 100); // segments 0..2 full, 3 final (100 bytes)
  let sealed: Sealed;
  const get = async () => (sealed ??= await seal(plain));

  it("refuses a flipped bit anywhere in the header, before releasing any plaintext", async () => {
    const { obj } = await get();
    const { headerLength } = readHeader(obj);
    for (let pos = 0; pos < headerLength; pos++) {
      for (const bit of [0x01, 0x80]) {
        const bad = Buffer.from(obj);
        bad[pos]! ^= bit;
        const out = await rejects(bad, /./);
        expect(out.length, `byte ${pos}`).toBe(0);
      }
    }
  });

  it("names what failed in the header", async () => {
    const { obj } = await get();
    const h = readHeader(obj);
    const at = (pos: number, value: number) => {
      const b = Buffer.from(obj);
      b[pos] = value;
      return b;
    };
    await rejects(at(0, 0x43 ^ 1), /bad magic/);
    await rejects(at(7, 2), /unknown format version 2/);
    await rejects(at(11, obj[11]! + 1), /truncated inside the header|header/);
    await rejects(at(15, 1), /segment 0 failed authentication/i); // S = 4097: header hash differs
    await rejects(at(16, obj[16]! ^ 1), /segment 0 failed authentication/i); // nonce prefix
    const keyIdAt = 23 + 1;
    await rejects(
      at(keyIdAt, "x".charCodeAt(0)),
      /master key "x1", which is not configured\. Add that key to MASTER_KEYS/,
    );
    const teamAt = keyIdAt + h.keyId.length + 1;
    await rejects(at(teamAt, "T".charCodeAt(0)), /did not unwrap with master key "k1".*does not belong to this backup/);
    await rejects(at(h.headerLength - 1, obj[h.headerLength - 1]! ^ 1), /did not unwrap/); // wrapped DEK tag
  });

  it("refuses a flipped ciphertext or tag bit, releasing only the segments verified before it", async () => {
    const { obj } = await get();
    const { headerLength } = readHeader(obj);
    const seg1 = headerLength + (S + 16);
    const flip = (pos: number) => {
      const b = Buffer.from(obj);
      b[pos]! ^= 0x04;
      return b;
    };
    let out = await rejects(flip(seg1 + 10), /segment 1 failed authentication/i);
    expect(out.equals(plain.subarray(0, S))).toBe(true);
    out = await rejects(flip(seg1 + S + 15), /segment 1 failed authentication/i); // last tag byte
    expect(out.length).toBe(S);
    await rejects(flip(obj.length - 1), /segment 3 failed authentication/i); // final segment's tag
    await rejects(flip(headerLength), /segment 0 failed authentication/i);
  });

  it("refuses reordered, dropped, appended and forged-final segments", async () => {
    const { obj, dek } = await get();
    const { header, parsed, segs } = split(obj);
    const [s0, s1, s2, s3] = segs as [Buffer, Buffer, Buffer, Buffer];
    await rejects(Buffer.concat([header, s1, s0, s2, s3]), /segment 0 failed authentication/i);
    await rejects(Buffer.concat([header, s0, s2, s1, s3]), /segment 1 failed authentication/i);
    await rejects(
      Buffer.concat([header, s0, s1, s2]),
      /truncated: it ends after segment 2, which is not the final segment/,
    );
    await rejects(Buffer.concat([header]), /truncated/);
    await rejects(Buffer.concat([header, s0, s1, s2, s3, s2]), /segment 3 failed authentication/i); // short final segment no longer ends the object
    await rejects(Buffer.concat([header, s0, s1, s2, s3, Buffer.from("x")]), /segment 3 failed authentication/i);
    const forged = forgeSegment(dek, parsed.noncePrefix, parsed.hash, 1, true, plain.subarray(S, 2 * S));
    await rejects(Buffer.concat([header, s0, forged, s2, s3]), /data after the final segment \(segment 1\)/);
    // Sanity: the forger really holds the key — the same chunk sealed with the right flag is accepted.
    const honest = forgeSegment(dek, parsed.noncePrefix, parsed.hash, 1, false, plain.subarray(S, 2 * S));
    expect((await ok(createDecryptStream({ keys }), Buffer.concat([header, s0, honest, s2, s3]))).equals(plain)).toBe(
      true,
    );
  });

  it("refuses an object that is an exact multiple of S once extended or cut at a segment boundary", async () => {
    const p = pattern(2 * S);
    const { obj } = await seal(p);
    const { header, segs } = split(obj);
    expect(segs.length).toBe(2);
    await rejects(Buffer.concat([obj, segs[0]!]), /data after the final segment \(segment 1\)/);
    await rejects(Buffer.concat([obj, Buffer.alloc(1)]), /data after the final segment \(segment 1\)/);
    await rejects(Buffer.concat([header, segs[0]!]), /truncated: it ends after segment 0/);
  });

  it("refuses truncation anywhere", async () => {
    const { obj } = await get();
    const { headerLength } = readHeader(obj);
    for (const cut of [
      5,
      11,
      12,
      40,
      headerLength - 1,
      headerLength,
      headerLength + 3,
      headerLength + 15,
      headerLength + 16,
      headerLength + S + 15,
      headerLength + S + 16,
      headerLength + S + 17,
      headerLength + 2 * (S + 16) + 100,
      obj.length - 1,
    ]) {
      await rejects(obj.subarray(0, cut), /truncated|failed authentication/i);
    }
  });

  it("refuses the wrong DEK, the wrong master key and a wrapped DEK moved to another backup or team", async () => {
    const { obj, dek, wrapped } = await get();
    // An object sealed under one DEK whose header carries another's wrapping.
    const other = newDataKey();
    const mismatched = await ok(
      createEncryptStream({
        dek,
        wrapped: wrapDek(other, keys, team, backup),
        teamId: team,
        backupId: backup,
        segmentSize: S,
      }),
      plain,
    );
    await rejects(mismatched, /segment 0 failed authentication/i);

    const wrongKey = ring(`k1:${randomBytes(32).toString("base64")}`);
    await rejects(obj, /did not unwrap with master key "k1": the key is wrong/, { keys: wrongKey });
    await rejects(obj, /master key "k1", which is not configured\. Add that key to MASTER_KEYS/, {
      keys: ring(`k2:${k1Secret}`),
    });

    expect(unwrapDek(wrapped, keys, team, backup).equals(dek)).toBe(true);
    expect(() => unwrapDek(wrapped, keys, team, "bkp_2")).toThrow(/does not belong to this backup/);
    expect(() => unwrapDek(wrapped, keys, "team_b", backup)).toThrow(/does not belong to this backup/);
    expect(() => unwrapDek(wrapped, wrongKey, team, backup)).toThrow(AppError);
    // The same wrapped DEK put into an object that claims another backup or team.
    for (const ids of [
      { teamId: team, backupId: "bkp_2" },
      { teamId: "team_b", backupId: backup },
    ]) {
      const moved = await ok(createEncryptStream({ dek, wrapped, ...ids, segmentSize: S }), plain);
      const out = await rejects(moved, /did not unwrap.*does not belong to this backup/);
      expect(out.length).toBe(0);
    }
  });

  it("refuses an object that names another backup than expected, before decrypting", async () => {
    const { obj } = await get();
    await rejects(obj, /belongs to backup "bkp_1" of team "team_a", not to backup "bkp_2"/, {
      expect: { teamId: team, backupId: "bkp_2" },
    });
    await rejects(obj, /not to backup "bkp_1" of team "team_b"/, { expect: { teamId: "team_b", backupId: backup } });
  });

  it("validates what the writer is given", () => {
    const dek = newDataKey();
    const wrapped = wrapDek(dek, keys, team, backup);
    expect(() => createEncryptStream({ dek, wrapped, teamId: team, backupId: backup, segmentSize: 4095 })).toThrow(
      /segment size/,
    );
    expect(() =>
      createEncryptStream({ dek, wrapped, teamId: team, backupId: backup, segmentSize: 16 * MiB + 1 }),
    ).toThrow(/segment size/);
    expect(() => createEncryptStream({ dek: dek.subarray(1), wrapped, teamId: team, backupId: backup })).toThrow(
      /32 bytes/,
    );
    expect(() => createEncryptStream({ dek, wrapped, teamId: "", backupId: backup })).toThrow(/team id/);
    expect(() => createEncryptStream({ dek, wrapped, teamId: "a\0b", backupId: backup })).toThrow(/team id/);
    expect(() => createEncryptStream({ dek, wrapped, teamId: team, backupId: "x".repeat(256) })).toThrow(/backup id/);
    expect(() =>
      createEncryptStream({ dek, wrapped, teamId: team, backupId: backup, noncePrefix: Buffer.alloc(8) }),
    ).toThrow(/nonce prefix/);
  });
});

describe("envelope: range decryption", () => {
  const plain = pattern(10 * S + 123);
  let sealed: Sealed;
  const get = async () => (sealed ??= await seal(plain));

  const decryptRange = async (obj: Buffer, dek: Buffer, start: number, end: number, chunk?: number) => {
    const header = readHeader(obj);
    const r = segmentRange({ start, end }, header.headerLength, S, obj.length);
    const stream = createRangeDecryptStream({
      dek,
      header,
      firstSegment: r.firstSegment,
      lastSegmentIndex: r.lastSegmentIndex,
      skip: r.skip,
      length: r.length,
    });
    return run(stream, obj.subarray(r.objectStart, r.objectEnd + 1), chunk);
  };

  it("returns exactly the requested bytes for edge and random ranges", async () => {
    const { obj, dek } = await get();
    const n = plain.length;
    const ranges: [number, number][] = [
      [0, 0],
      [0, n - 1],
      [n - 1, n - 1],
      [S - 1, S],
      [S, 2 * S - 1],
      [10 * S, n - 1],
      [10 * S - 1, 10 * S],
      [5, 5 * S + 7],
    ];
    let seed = 42;
    const rand = (m: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % m);
    for (let i = 0; i < 150; i++) {
      const a = rand(n);
      const b = rand(n);
      ranges.push([Math.min(a, b), Math.max(a, b)]);
    }
    for (const [start, end] of ranges) {
      const { out, err } = await decryptRange(obj, dek, start, end, 1 + (start % 5000));
      expect(err, `${start}-${end}`).toBeUndefined();
      expect(out.equals(plain.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
    }
  });

  it("keeps pace with input that arrives faster than segments open, and survives a reader that goes away", async () => {
    const big = randomBytes(24 * MiB + 5);
    const dek = newDataKey();
    const obj = await ok(
      createEncryptStream({ dek, wrapped: wrapDek(dek, keys, team, backup), teamId: team, backupId: backup }),
      big,
    );
    const header = readHeader(obj);
    const whole = segmentRange({ start: 0, end: big.length - 1 }, header.headerLength, header.segmentSize, obj.length);
    const stream = () =>
      createRangeDecryptStream({
        dek,
        header,
        firstSegment: 0,
        lastSegmentIndex: whole.lastSegmentIndex,
        skip: 0,
        length: whole.length,
      });
    // Chunks with memory of their own move to the worker thread; the pipeline must still end.
    const own = function* () {
      for (const c of chunks(obj.subarray(whole.objectStart), 64 * KiB)) yield Buffer.from(c);
    };
    const parts: Buffer[] = [];
    await pipeline(
      Readable.from(own()),
      stream(),
      new Writable({ write: (b: Buffer, _e, cb) => (parts.push(b), cb()) }),
    );
    expect(Buffer.concat(parts).equals(big)).toBe(true);

    const early = stream();
    const gone = new Promise<void>((resolve) => early.once("data", () => (early.destroy(), resolve())));
    Readable.from(own()).pipe(early);
    await gone;
    // The input ends (all of it written at once) while writes still wait for the worker.
    const burst = stream();
    const out: Buffer[] = [];
    burst.on("data", (b: Buffer) => out.push(b));
    for (const c of chunks(obj.subarray(whole.objectStart), MiB)) burst.write(c);
    burst.end();
    await finished(burst);
    expect(Buffer.concat(out).equals(big)).toBe(true);
  });

  it("fetches only the covered segments", async () => {
    const { obj } = await get();
    const h = readHeader(obj).headerLength;
    expect(segmentRange({ start: S + 1, end: S + 2 }, h, S, obj.length)).toEqual({
      objectStart: h + S + 16,
      objectEnd: h + 2 * (S + 16) - 1,
      firstSegment: 1,
      skip: 1,
      length: 2,
      lastSegmentIndex: 10,
    });
    expect(segmentRange({ start: plain.length - 1, end: plain.length - 1 }, h, S, obj.length).objectEnd).toBe(
      obj.length - 1,
    );
    expect(() => segmentRange({ start: 0, end: plain.length }, h, S, obj.length)).toThrow(/outside the backup/);
    expect(() => segmentRange({ start: 5, end: 4 }, h, S, obj.length)).toThrow(/outside the backup/);
  });

  it("refuses a tampered covered segment, the wrong DEK, and cut or extended input", async () => {
    const { obj, dek } = await get();
    const header = readHeader(obj);
    const bad = Buffer.from(obj);
    bad[header.headerLength + 2 * (S + 16) + 7]! ^= 1; // segment 2
    let r = await decryptRange(bad, dek, S + 10, 3 * S);
    expect((r.err as Error).message).toMatch(/segment 2 failed authentication/i);
    expect(r.out.equals(plain.subarray(S + 10, 2 * S))).toBe(true); // segment 1 only, verified
    expect((await decryptRange(bad, dek, 3 * S, 4 * S)).err).toBeUndefined(); // segment 2 not covered
    r = await decryptRange(obj, newDataKey(), 0, 10);
    expect((r.err as Error).message).toMatch(/segment 0 failed authentication/i);
    expect(r.out.length).toBe(0);

    const rg = segmentRange({ start: 0, end: 2 * S }, header.headerLength, S, obj.length);
    const mk = () =>
      createRangeDecryptStream({
        dek,
        header,
        firstSegment: 0,
        lastSegmentIndex: rg.lastSegmentIndex,
        skip: 0,
        length: rg.length,
      });
    const slice = obj.subarray(rg.objectStart, rg.objectEnd + 1);
    expect((await run(mk(), slice.subarray(0, slice.length - 1))).err).toBeInstanceOf(AppError);
    expect(((await run(mk(), Buffer.concat([slice, Buffer.alloc(1)]))).err as Error).message).toMatch(
      /data after the requested segments/,
    );
    // The final segment decrypted as such: a range ending in it must see the last flag.
    const end = segmentRange({ start: 10 * S, end: plain.length - 1 }, header.headerLength, S, obj.length);
    const notFinal = createRangeDecryptStream({
      dek,
      header,
      firstSegment: 10,
      lastSegmentIndex: 11,
      skip: 0,
      length: end.length,
    });
    expect((await run(notFinal, obj.subarray(end.objectStart))).err).toBeInstanceOf(AppError);
  });
});

describe("envelope: known-answer vectors", () => {
  const hex = (s: string) => Buffer.from(s, "hex");
  const plainOf = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff));
  const master = hex(vectors.masterKey.hex);
  const kat = ring(`${vectors.masterKey.id}:${master.toString("base64")}`);

  /** FORMAT.md written out with raw node:crypto calls, independent of envelope.ts. */
  function reference(plain: Buffer): Buffer {
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return b;
    };
    const str = (s: string) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
    const w = createCipheriv("aes-256-gcm", master, hex(vectors.wrapNonceHex));
    w.setAAD(Buffer.from(`coffer/dek/v1\0${vectors.teamId}\0${vectors.backupId}`));
    const wrapped = Buffer.concat([
      hex(vectors.wrapNonceHex),
      w.update(hex(vectors.dekHex)),
      w.final(),
      w.getAuthTag(),
    ]);
    const fields = Buffer.concat([
      u32(vectors.segmentSize),
      hex(vectors.noncePrefixHex),
      str(vectors.masterKey.id),
      str(vectors.teamId),
      str(vectors.backupId),
      Buffer.from([0, wrapped.length]),
      wrapped,
    ]);
    const header = Buffer.concat([Buffer.from("COFFER\0\x01", "latin1"), u32(fields.length), fields]);
    const aad = createHash("sha256").update(header).digest();
    const n = Math.max(1, Math.ceil(plain.length / vectors.segmentSize));
    const out = [header];
    for (let i = 0; i < n; i++) {
      const nonce = Buffer.concat([hex(vectors.noncePrefixHex), u32(i), Buffer.from([i === n - 1 ? 1 : 0])]);
      const c = createCipheriv("aes-256-gcm", hex(vectors.dekHex), nonce);
      c.setAAD(aad);
      out.push(
        c.update(plain.subarray(i * vectors.segmentSize, (i + 1) * vectors.segmentSize)),
        c.final(),
        c.getAuthTag(),
      );
    }
    return Buffer.concat(out);
  }

  it.each(vectors.vectors.map((v) => [v.plaintextLength, v.objectHex] as const))(
    "%i bytes: exact object bytes",
    async (n, objectHex) => {
      const plain = plainOf(n);
      const expected = hex(objectHex);
      expect(reference(plain).toString("hex")).toBe(objectHex);
      const h = readHeader(expected);
      expect(h).toMatchObject({
        keyId: vectors.masterKey.id,
        teamId: vectors.teamId,
        backupId: vectors.backupId,
        segmentSize: vectors.segmentSize,
      });
      expect(unwrapDek(h.wrapped, kat, vectors.teamId, vectors.backupId).toString("hex")).toBe(vectors.dekHex);
      const obj = await ok(
        createEncryptStream({
          dek: hex(vectors.dekHex),
          wrapped: h.wrapped,
          teamId: vectors.teamId,
          backupId: vectors.backupId,
          segmentSize: vectors.segmentSize,
          noncePrefix: hex(vectors.noncePrefixHex),
        }),
        plain,
        777,
      );
      expect(obj.toString("hex")).toBe(objectHex);
      expect((await ok(createDecryptStream({ keys: kat }), expected)).equals(plain)).toBe(true);
    },
  );
});

describe("envelope: streaming", () => {
  it("round-trips a 128 MiB generated stream with flat memory", async () => {
    const total = 128 * MiB;
    const block = randomBytes(64 * KiB);
    const inHash = createHash("sha256");
    async function* generate() {
      let sent = 0;
      for (let n = 0; sent < total; n++) {
        const len = Math.min(64 * KiB + 1, total - sent);
        const b = Buffer.allocUnsafe(len);
        block.copy(b);
        if (len > block.length) b[block.length] = n & 0xff;
        b.writeUInt32BE(n, 0);
        inHash.update(b);
        sent += len;
        yield b;
      }
    }
    const outHash = createHash("sha256");
    let received = 0;
    const sink = new Writable({
      write(b: Buffer, _e, cb) {
        outHash.update(b);
        received += b.length;
        cb();
      },
    });
    const dek = newDataKey();
    const wrapped = wrapDek(dek, keys, team, backup);
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    const t0 = performance.now();
    try {
      await pipeline(
        Readable.from(generate()),
        createEncryptStream({ dek, wrapped, teamId: team, backupId: backup }),
        createDecryptStream({ keys, expect: { teamId: team, backupId: backup } }),
        sink,
      );
    } finally {
      clearInterval(timer);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    const growth = (peak - base) / MiB;
    console.log(
      `envelope streaming: ${total / MiB} MiB encrypt→decrypt in ${((performance.now() - t0) / 1000).toFixed(2)} s, RSS growth ${growth.toFixed(1)} MiB (base ${(base / MiB).toFixed(0)} MiB)`,
    );
    expect(received).toBe(total);
    expect(outHash.digest("hex")).toBe(inHash.digest("hex"));
    expect(growth).toBeLessThan(64);
  }, 60_000);
});

describe("the coffer CLI (npx coffer)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "coffer-cli-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const root = path.resolve(import.meta.dirname, "../..");
  const cli = (args: string[], stdin?: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      // The package.json bin, from another working folder, as a user in disaster recovery runs it.
      const child = execFile(
        process.execPath,
        [path.join(root, "scripts/coffer-bin.mjs"), ...args],
        { cwd: dir },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin!.end(stdin ?? "");
    });

  it("decrypts an object offline with the master key alone, and leaves nothing behind on failure", async () => {
    const plain = pattern(5 * S + 17);
    const { obj } = await seal(plain, { teamId: "team_cli", backupId: "bkp_cli" });
    const objFile = path.join(dir, "backup.enc");
    const keyFile = path.join(dir, "keys");
    writeFileSync(objFile, obj);
    writeFileSync(keyFile, `k1:${k1Secret}\n`);

    const out = path.join(dir, "out.tar.gz");
    const good = await cli(["decrypt", "--master-keys", keyFile, objFile, out]);
    expect(good.stderr).toBe("");
    expect(good.code).toBe(0);
    expect(good.stdout).toContain(`Wrote ${plain.length} bytes`);
    expect(good.stdout).toMatch(/backup bkp_cli, team team_cli, master key "k1"/);
    expect(readFileSync(out).equals(plain)).toBe(true);

    const wrongOut = path.join(dir, "wrong.tar.gz");
    const wrong = await cli(
      ["decrypt", "--master-keys", "-", objFile, wrongOut],
      `k1:${randomBytes(32).toString("base64")}`,
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/did not unwrap with master key "k1"/);
    expect(existsSync(wrongOut)).toBe(false);
    expect(existsSync(`${wrongOut}.partial`)).toBe(false);

    const damaged = Buffer.from(obj);
    damaged[damaged.length - S]! ^= 1; // fails part-way, after earlier segments were written
    writeFileSync(objFile, damaged);
    const partOut = path.join(dir, "part.tar.gz");
    const part = await cli(["decrypt", "--master-keys", keyFile, objFile, partOut]);
    expect(part.code).toBe(1);
    expect(part.stderr).toMatch(/segment \d failed authentication/i);
    expect(existsSync(partOut)).toBe(false);
    expect(existsSync(`${partOut}.partial`)).toBe(false);

    const info = await cli(["inspect", objFile]);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/team id:\s+team_cli/);
    expect(info.stdout).toMatch(/backup id:\s+bkp_cli/);
    expect(info.stdout).toMatch(/master key id:\s+k1/);
    expect(info.stdout).toContain(`plaintext size: ${plain.length} bytes`);
  }, 30_000);
});

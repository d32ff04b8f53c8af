import "server-only";
import { createDecipheriv, createHash, timingSafeEqual, type Decipher } from "node:crypto";
import { Transform } from "node:stream";
import { CHUNK } from "./seipd-write";

// Reads an OpenPGP backup (docs/OPENPGP.md) in one pass with Node's crypto: the key packets go
// to `openSessionKeys` (OpenPGP.js, for a passphrase), the SEIPD v1 packet is decrypted here and
// its Literal Data released as it goes. The MDC is checked at the end: the stream fails there on
// anything altered or cut, so nothing it gave may be used before it ended.

/** Why a message cannot be read: altered, cut or not of Coffer's shape; or no key given opens it. */
export class OpenPgpReadError extends Error {
  constructor(readonly reason: "tampered" | "no-key") {
    super(`OpenPGP message: ${reason}`);
  }
}
const tampered = () => new OpenPgpReadError("tampered");

/** A packet's body from its first length octet on (new format), in partial chunks or not. */
class Body {
  done = false;
  private remaining = 0;
  private last = false;
  private header: number[] = [];
  constructor(private readonly onBytes: (b: Buffer) => void) {}

  /** Feeds `buf` from `at`; returns where this body ended in it (or its length). */
  feed(buf: Buffer, at: number): number {
    while (at < buf.length && !this.done) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, buf.length - at);
        this.onBytes(buf.subarray(at, at + n));
        at += n;
        this.remaining -= n;
        if (this.remaining === 0 && this.last) this.done = true;
        continue;
      }
      this.header.push(buf[at++]!);
      const [o, ...rest] = this.header as [number, ...number[]];
      if (o >= 224 && o < 255) this.chunk(1 << (o & 0x1f), false);
      else if (o < 192) this.chunk(o, true);
      else if (o < 224 && rest.length === 1) this.chunk(((o - 192) << 8) + rest[0]! + 192, true);
      else if (o === 255 && rest.length === 4) this.chunk(Buffer.from(rest).readUInt32BE(0), true);
    }
    return at;
  }

  private chunk(length: number, last: boolean) {
    this.header = [];
    this.remaining = length;
    this.last = last;
    if (length === 0 && last) this.done = true;
  }
}

/** Exactly `n` bytes, gathered across chunks. */
class Fixed {
  private got: Buffer[] = [];
  private have = 0;
  constructor(private readonly n: number) {}
  get full() {
    return this.have === this.n;
  }
  feed(buf: Buffer, at: number): number {
    const take = Math.min(this.n - this.have, buf.length - at);
    this.got.push(buf.subarray(at, at + take));
    this.have += take;
    return at + take;
  }
  bytes() {
    return Buffer.concat(this.got);
  }
}

/**
 * SEIPD v1's plaintext: the 18-byte prefix, one binary Literal Data packet (its data released),
 * the MDC packet, whose SHA-1 covers all before its hash. Anything else is refused.
 */
class Plaintext {
  private readonly sha1 = createHash("sha1");
  private state: "prefix" | "tag" | "literal" | "mdc-tag" | "mdc" | "end" = "prefix";
  private readonly prefix = new Fixed(18);
  private readonly literal = new Body((b) => this.literalBytes(b));
  private readonly literalHead = new Fixed(2);
  private skip = -1; // the literal's file name and date, once its first two octets are known
  private readonly mdcTag = new Fixed(2);
  private readonly mdc = new Fixed(20);
  constructor(private readonly release: (b: Buffer) => void) {}

  feed(p: Buffer) {
    let at = 0;
    while (at < p.length) {
      const from = at;
      if (this.state === "prefix") {
        at = this.prefix.feed(p, at);
        if (this.prefix.full) this.state = "tag";
      } else if (this.state === "tag") {
        if (p[at++] !== (0xc0 | 11)) throw tampered();
        this.state = "literal";
      } else if (this.state === "literal") {
        at = this.literal.feed(p, at);
        if (this.literal.done) this.state = "mdc-tag";
      } else if (this.state === "mdc-tag") {
        at = this.mdcTag.feed(p, at);
        if (this.mdcTag.full) {
          if (!this.mdcTag.bytes().equals(Buffer.from([0xd3, 0x14]))) throw tampered();
          this.state = "mdc";
        }
      } else if (this.state === "mdc") {
        at = this.mdc.feed(p, at);
        if (this.mdc.full) this.state = "end";
        continue; // the hash is not hashed
      } else throw tampered(); // bytes after the MDC
      this.sha1.update(p.subarray(from, at));
    }
  }

  /** Checks the MDC, once the SEIPD packet ended. */
  end() {
    if (this.state !== "end" || !timingSafeEqual(this.sha1.digest(), this.mdc.bytes())) throw tampered();
  }

  private literalBytes(b: Buffer) {
    let at = 0;
    if (this.skip < 0) {
      at = this.literalHead.feed(b, 0);
      if (!this.literalHead.full) return;
      this.skip = this.literalHead.bytes()[1]! + 4;
    }
    const n = Math.min(this.skip, b.length - at);
    this.skip -= n;
    at += n;
    if (at < b.length) this.release(b.subarray(at));
  }
}

/**
 * The key packets, whole, at the start of `head`: the offset of the SEIPD packet's tag, or
 * undefined while more bytes are needed. Coffer writes new-format packets only.
 */
function keyPacketsEnd(head: Buffer): number | undefined {
  let at = 0;
  while (at < head.length) {
    const tag = head[at]!;
    if (tag === (0xc0 | 18)) return at;
    if (tag !== (0xc0 | 1) && tag !== (0xc0 | 3)) throw tampered();
    const o = head[at + 1];
    if (o === undefined) return;
    if (o >= 224 && o < 255) throw tampered(); // key packets have a definite length
    const n = o < 192 ? 1 : o < 224 ? 2 : 5;
    if (at + 1 + n >= head.length) return;
    const length = o < 192 ? o : o < 224 ? ((o - 192) << 8) + head[at + 2]! + 192 : head.readUInt32BE(at + 2);
    at += 1 + n + length;
  }
}

/**
 * The whole message in → the Literal Data's bytes out. `openSessionKeys` gets the key packets
 * (as one binary message) and returns candidate AES-256 session keys, tried on the prefix.
 */
export function seipdDecryptStream(openSessionKeys: (keyPackets: Buffer) => Promise<Buffer[]>): Transform {
  let state: "keys" | "prefix" | "data" | "end" = "keys";
  let head = Buffer.alloc(0); // the key packets read so far
  let keys: Buffer[] = [];
  let decipher: Decipher;
  const first = new Fixed(1 + 18); // the version octet and the encrypted prefix
  const plaintext = new Plaintext((b) => out.push(b));
  const decrypt = (c: Buffer) => {
    for (let at = 0; at < c.length; at += CHUNK) plaintext.feed(decipher.update(c.subarray(at, at + CHUNK)));
  };
  // Picks the session key whose decryption of the prefix repeats its last two octets.
  const choose = (b: Buffer) => {
    const at = first.feed(b, 0);
    if (!first.full) return;
    const versionAndPrefix = first.bytes();
    if (versionAndPrefix[0] !== 1) throw tampered();
    for (const key of keys) {
      const d = createDecipheriv("aes-256-cfb", key, Buffer.alloc(16));
      const prefix = d.update(versionAndPrefix.subarray(1));
      if (prefix[14] !== prefix[16] || prefix[15] !== prefix[17]) continue;
      decipher = d;
      state = "data";
      plaintext.feed(prefix);
      return decrypt(b.subarray(at));
    }
    throw new OpenPgpReadError("no-key");
  };
  const seipd = new Body((b) => (state === "data" ? decrypt(b) : choose(b)));

  const feed = async (chunk: Buffer) => {
    if (state === "keys") {
      head = Buffer.concat([head, chunk]);
      const end = keyPacketsEnd(head);
      if (end === undefined) {
        if (head.length > 1 << 20) throw tampered(); // key packets are small
        return;
      }
      keys = await openSessionKeys(head.subarray(0, end));
      if (!keys.length) throw new OpenPgpReadError("no-key");
      state = "prefix";
      chunk = head.subarray(end + 1);
    }
    if (state === "end") {
      if (chunk.length) throw tampered(); // bytes after the message
      return;
    }
    const at = seipd.feed(chunk, 0);
    if (seipd.done) {
      state = "end";
      if (at < chunk.length) throw tampered();
    }
  };

  const out = new Transform({
    transform(chunk: Buffer, _enc, done) {
      feed(chunk).then(() => done(), done);
    },
    flush(done) {
      try {
        if (state !== "end") throw tampered(); // cut short
        plaintext.end();
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
  return out;
}

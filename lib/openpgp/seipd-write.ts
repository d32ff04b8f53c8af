import "server-only";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { Transform } from "node:stream";

// The data part of an OpenPGP backup, written with Node's crypto in one pass (docs/OPENPGP.md):
// a Symmetrically Encrypted Integrity Protected Data packet (tag 18, version 1) holding a Literal
// Data packet (tag 11, binary) and the Modification Detection Code packet (tag 19). Both long
// packets use partial body lengths of 64 KiB (RFC 4880 §4.2.2.4), so nothing is buffered beyond
// one chunk, and every cipher and hash call gets at most 64 KiB.

/** Bytes per partial body chunk: 2^16, under the first chunk's minimum of 512 and a cheap slice size. */
export const CHUNK = 1 << 16;
const PARTIAL = Buffer.from([0xe0 + 16]);
const LITERAL_TAG = Buffer.from([0xc0 | 11]);
const SEIPD_TAG = Buffer.from([0xc0 | 18]);
const SEIPD_VERSION = Buffer.from([1]);
const MDC_HEADER = Buffer.from([0xd3, 0x14]); // tag 19, 20 octets of SHA-1

/** A new-format definite body length (RFC 4880 §4.2.2.1–3). */
function definiteLength(n: number): Buffer {
  if (n < 192) return Buffer.from([n]);
  if (n < 8384) return Buffer.from([((n - 192) >> 8) + 192, (n - 192) & 0xff]);
  const b = Buffer.alloc(5, 0xff);
  b.writeUInt32BE(n, 1);
  return b;
}

/**
 * Cuts a packet body into partial-length chunks of CHUNK bytes and a definite-length last one.
 * It holds back up to CHUNK bytes (as references, not copies) until it knows a chunk is not the last.
 */
class PartialBody {
  private pending: Buffer[] = [];
  private bytes = 0;
  constructor(private readonly onFrame: (parts: Buffer[]) => void) {}

  write(b: Buffer) {
    if (!b.length) return;
    this.pending.push(b);
    this.bytes += b.length;
    while (this.bytes > CHUNK) this.frame();
  }

  end() {
    this.onFrame([definiteLength(this.bytes), ...this.pending]);
    this.pending = [];
    this.bytes = 0;
  }

  private frame() {
    const parts: Buffer[] = [PARTIAL];
    let need = CHUNK;
    while (need > 0) {
      const head = this.pending[0]!;
      if (head.length <= need) {
        this.pending.shift();
        parts.push(head);
        need -= head.length;
      } else {
        parts.push(head.subarray(0, need));
        this.pending[0] = head.subarray(need);
        need = 0;
      }
    }
    this.bytes -= CHUNK;
    this.onFrame(parts);
  }
}

/**
 * Plaintext in → `keyPackets` then the SEIPD packet out, encrypted with AES-256 under `sessionKey`.
 * SEIPD v1's CFB (a zero IV, a random block and its last two octets repeated first, no resync)
 * is standard CFB over prefix ‖ plaintext packets ‖ MDC; the MDC's SHA-1 covers all but its hash.
 */
export function seipdEncryptStream(sessionKey: Buffer, keyPackets: Uint8Array): Transform {
  const cipher = createCipheriv("aes-256-cfb", sessionKey, Buffer.alloc(16));
  const sha1 = createHash("sha1");
  const seipd = new PartialBody((parts) => out.push(Buffer.concat(parts)));
  const seal = (b: Buffer) => {
    sha1.update(b);
    seipd.write(cipher.update(b));
  };
  const literal = new PartialBody((parts) => parts.forEach(seal));
  const out = new Transform({
    transform(chunk: Buffer, _enc, done) {
      for (let at = 0; at < chunk.length; at += CHUNK) literal.write(chunk.subarray(at, at + CHUNK));
      done();
    },
    flush(done) {
      literal.end();
      seal(MDC_HEADER);
      seipd.write(cipher.update(sha1.digest()));
      seipd.write(cipher.final());
      seipd.end();
      done();
    },
  });
  out.push(Buffer.concat([keyPackets, SEIPD_TAG]));
  seipd.write(SEIPD_VERSION);
  const prefix = randomBytes(18);
  prefix.copy(prefix, 16, 14, 16);
  seal(prefix);
  seal(LITERAL_TAG);
  // Binary data, no file name, the time it was written.
  const literalHeader = Buffer.from([0x62, 0, 0, 0, 0, 0]);
  literalHeader.writeUInt32BE(Math.floor(Date.now() / 1000), 2);
  literal.write(literalHeader);
  return out;
}

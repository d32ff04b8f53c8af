import "server-only";
import type { Transform } from "node:stream";
import { AppError } from "../errors";
import { WorkerStream, type WorkerKind } from "../crypto/worker-stream";

// The data part of an OpenPGP backup, written with Node's crypto in one pass (docs/OPENPGP.md):
// a Symmetrically Encrypted Integrity Protected Data packet (tag 18, version 1) holding a Literal
// Data packet (tag 11, binary) and the Modification Detection Code packet (tag 19). Both long
// packets use partial body lengths of 64 KiB (RFC 4880 §4.2.2.4), so nothing is buffered beyond
// one chunk, and every cipher and hash call gets at most 64 KiB. CFB cannot be parallelised and
// SHA-1 costs as much again, so both run on a worker thread (../crypto/worker-stream.ts) while
// the event loop reads the archive and writes to storage.

/** Bytes per partial body chunk: 2^16, under the first chunk's minimum of 512 and a cheap slice size. */
export const CHUNK = 1 << 16;
const SEIPD_TAG = Buffer.from([0xc0 | 18]);

const sealSeipd: WorkerKind = {
  name: "openpgp/seal-seipd",
  source: String.raw`
const { createCipheriv, createHash, randomBytes } = require("node:crypto");
const CHUNK = ${CHUNK};
const PARTIAL = Buffer.from([0xe0 + 16]);
const LITERAL_TAG = Buffer.from([0xc0 | 11]);
const SEIPD_VERSION = Buffer.from([1]);
const MDC_HEADER = Buffer.from([0xd3, 0x14]); // tag 19, 20 octets of SHA-1

// A new-format definite body length (RFC 4880 §4.2.2.1–3).
function definiteLength(n) {
  if (n < 192) return Buffer.from([n]);
  if (n < 8384) return Buffer.from([((n - 192) >> 8) + 192, (n - 192) & 0xff]);
  const b = Buffer.alloc(5, 0xff);
  b.writeUInt32BE(n, 1);
  return b;
}

// Cuts a packet body into partial-length chunks of CHUNK bytes and a definite-length last one,
// holding back up to CHUNK bytes (as references, not copies) until it knows a chunk is not the last.
class PartialBody {
  constructor(onFrame) {
    this.onFrame = onFrame;
    this.pending = [];
    this.bytes = 0;
  }
  write(b) {
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
  frame() {
    const parts = [PARTIAL];
    let need = CHUNK;
    while (need > 0) {
      const head = this.pending[0];
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

// SEIPD v1's CFB (a zero IV, a random block and its last two octets repeated first, no resync)
// is standard CFB over prefix ‖ plaintext packets ‖ MDC; the MDC's SHA-1 covers all but its hash.
function start(j) {
  if (j.started) return;
  j.started = true;
  j.seipd.write(SEIPD_VERSION);
  const prefix = randomBytes(18);
  prefix.copy(prefix, 16, 14, 16);
  j.seal(prefix);
  j.seal(LITERAL_TAG);
  // Binary data, no file name, the time it was written.
  const literalHeader = Buffer.from([0x62, 0, 0, 0, 0, 0]);
  literalHeader.writeUInt32BE(Math.floor(Date.now() / 1000), 2);
  j.literal.write(literalHeader);
}

return {
  open(m) {
    const key = Buffer.from(m.sessionKey);
    m.sessionKey.fill(0);
    const j = { cipher: createCipheriv("aes-256-cfb", key, Buffer.alloc(16)), sha1: createHash("sha1"), out: null, started: false };
    key.fill(0);
    j.seipd = new PartialBody((parts) => j.out.push(Buffer.concat(parts)));
    j.seal = (b) => {
      j.sha1.update(b);
      j.seipd.write(j.cipher.update(b));
    };
    j.literal = new PartialBody((parts) => parts.forEach(j.seal));
    return j;
  },
  take(j, chunk, out) {
    j.out = out;
    start(j);
    for (let at = 0; at < chunk.length; at += CHUNK) j.literal.write(chunk.subarray(at, at + CHUNK));
  },
  finish(j, out) {
    j.out = out;
    start(j);
    j.literal.end();
    j.seal(MDC_HEADER);
    j.seipd.write(j.cipher.update(j.sha1.digest()));
    j.seipd.write(j.cipher.final());
    j.seipd.end();
  },
  close() {},
};
`,
};

class SeipdEncryptStream extends WorkerStream {
  constructor(sessionKey: Buffer, keyPackets: Uint8Array) {
    super(sealSeipd, { sessionKey }, false);
    this.push(Buffer.concat([keyPackets, SEIPD_TAG]));
  }

  protected failed(error: unknown): Error {
    return new AppError("INTERNAL", `Encrypting the OpenPGP message failed: ${(error as Error).message}`);
  }
}

/** Plaintext in → `keyPackets` then the SEIPD packet out, encrypted with AES-256 under `sessionKey`. */
export function seipdEncryptStream(sessionKey: Buffer, keyPackets: Uint8Array): Transform {
  return new SeipdEncryptStream(sessionKey, keyPackets);
}

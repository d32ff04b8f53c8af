import "server-only";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

// Opening segments off the event loop. A download's event loop reads the object and writes the
// response; the AES-GCM of its segments runs on a worker thread, so the two use two cores.
// Chunks go to the worker (transferred, not copied) and plaintext comes back the same way.
// The worker is plain JavaScript in a string, evaluated: a separate file would need every
// bundler and loader the app runs under (Next.js, tsx, Vitest) to find and compile it.

const workerSource = String.raw`
const { parentPort } = require("node:worker_threads");
const { createDecipheriv } = require("node:crypto");
const slice = 64 * 1024; // larger cipher outputs are fresh memory mappings each time (segments.ts)
const tagLength = 16;
const jobs = new Map();
const owned = ${owned.toString()};

function nonce(j, i) {
  const n = Buffer.alloc(12);
  j.noncePrefix.copy(n, 0);
  n.writeUInt32BE(i, 7);
  n[11] = i === j.lastSegmentIndex ? 1 : 0;
  return n;
}

// Opens one whole segment (ciphertext and tag) into out, or throws; nothing of it is released unless its tag verified.
function open(j, segment, out) {
  const i = j.index++;
  if (i > j.lastCovered) throw { kind: "after" };
  const d = createDecipheriv("aes-256-gcm", j.dek, nonce(j, i), { authTagLength: tagLength });
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
  out.push(...plain);
}

function take(j, chunk, out) {
  let o = 0;
  while (o < chunk.length) {
    const n = chunk.copy(j.buf, j.fill, o);
    o += n;
    j.fill += n;
    if (j.fill === j.buf.length) {
      j.fill = 0;
      open(j, j.buf, out);
    }
  }
}

function finish(j, out) {
  const rest = j.buf.subarray(0, j.fill);
  if (rest.length > 0 || j.index <= j.lastCovered) {
    // Only the object's final segment may be shorter than S + 16; it holds at least one byte.
    if (j.index <= j.lastCovered && (j.index < j.lastSegmentIndex || rest.length <= tagLength))
      throw { kind: "truncated", index: j.index };
    open(j, rest, out);
  }
}

parentPort.on("message", (m) => {
  if (m.type === "open") {
    const { id, segmentSize, ...keys } = m;
    jobs.set(id, { ...keys, dek: Buffer.from(keys.dek), noncePrefix: Buffer.from(keys.noncePrefix), hash: Buffer.from(keys.hash), buf: Buffer.alloc(segmentSize + tagLength), fill: 0, index: keys.firstSegment });
    return;
  }
  const j = jobs.get(m.id);
  if (!j) return;
  if (m.type === "close") {
    j.dek.fill(0);
    j.buf.fill(0);
    jobs.delete(m.id);
    return;
  }
  const out = [];
  let error;
  try {
    if (m.type === "data") for (const c of m.chunks) take(j, Buffer.from(c), out);
    else finish(j, out);
  } catch (e) {
    error = e;
  }
  const plain = out.map(owned);
  parentPort.postMessage({ id: m.id, plain, bytes: m.bytes, done: m.type === "end", error }, plain);
});
`;

/** Memory a view can be moved with: its own, or a copy when it shares it (Node's pool, a larger buffer). */
function owned(b: Uint8Array): ArrayBuffer {
  return b.byteOffset === 0 && b.buffer.byteLength === b.length ? (b.buffer as ArrayBuffer) : new Uint8Array(b).buffer;
}

/** What the worker answers for a job: plaintext (verified), the input bytes it consumed, the end, or why it stopped. */
export interface OpenedReply {
  plain: ArrayBuffer[];
  bytes: number;
  done: boolean;
  error?: { kind: "after" } | { kind: "auth" | "truncated"; index: number };
}

export interface OpenJob {
  dek: Buffer;
  noncePrefix: Buffer;
  hash: Buffer;
  segmentSize: number;
  firstSegment: number;
  lastSegmentIndex: number;
  lastCovered: number;
}

type Listener = { reply: (r: OpenedReply) => void; fail: (err: Error) => void };

let workers: { worker: Worker; listeners: Map<number, Listener> }[] = [];
let nextId = 1;

function spawn() {
  const worker = new Worker(workerSource, { eval: true });
  worker.unref(); // an idle worker does not keep the process alive
  const entry = { worker, listeners: new Map<number, Listener>() };
  worker.on("message", (r: OpenedReply & { id: number }) => entry.listeners.get(r.id)?.reply(r));
  const lost = (err: Error) => {
    workers = workers.filter((w) => w !== entry);
    for (const l of entry.listeners.values()) l.fail(err);
    entry.listeners.clear();
  };
  worker.on("error", lost);
  worker.on("exit", (code) => lost(new Error(`The decryption worker stopped (exit ${code}).`)));
  return entry;
}

/** Up to one worker per core but one, for the event loop; a new job goes to the least busy. */
function pick() {
  const max = Math.max(1, availableParallelism() - 1);
  const idle = workers.find((w) => w.listeners.size === 0);
  if (idle) return idle;
  if (workers.length < max) {
    const w = spawn();
    workers.push(w);
    return w;
  }
  return workers.reduce((a, b) => (b.listeners.size < a.listeners.size ? b : a));
}

/**
 * Starts opening a stream of segments on a worker. `send` hands it chunks of the object (their
 * memory moves to the worker), `end` says the input is over, `close` forgets the job (its data key
 * is wiped there). Replies arrive in order.
 */
export function openOnWorker(job: OpenJob, listener: Listener) {
  const w = pick();
  const id = nextId++;
  w.listeners.set(id, listener);
  w.worker.ref(); // a job under way keeps the process alive
  w.worker.postMessage({ type: "open", id, ...job });
  return {
    send(chunks: Buffer[], bytes: number) {
      const buffers = chunks.map(owned);
      try {
        w.worker.postMessage({ type: "data", id, chunks: buffers, bytes }, buffers);
      } catch {
        // Memory that cannot move (external to V8) is copied instead.
        w.worker.postMessage({ type: "data", id, chunks: chunks.map((c) => new Uint8Array(c).buffer), bytes });
      }
    },
    end() {
      w.worker.postMessage({ type: "end", id, bytes: 0 });
    },
    close() {
      if (!w.listeners.delete(id)) return;
      w.worker.postMessage({ type: "close", id });
      if (w.listeners.size === 0) w.worker.unref();
    },
  };
}

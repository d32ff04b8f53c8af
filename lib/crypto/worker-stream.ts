import "server-only";
import { availableParallelism } from "node:os";
import { Transform, type TransformCallback, type TransformOptions } from "node:stream";
import { Worker } from "node:worker_threads";

// Cipher work off the event loop. A download's event loop reads the object and writes the
// response, a backup's reads the archive and writes to storage; the ciphers run on worker threads,
// so both use a core. Each kind of work is plain JavaScript in a string, evaluated in the worker:
// a separate file would need every bundler and loader the app runs under (Next.js, tsx, Vitest)
// to find and compile it.

/**
 * A kind of work: the body of a function of `require` that returns
 * `{ open(init), take(state, chunk, out), finish(state, out), close(state) }`; `take` and `finish`
 * push output Buffers to `out` and throw a plain object to fail (it reaches `WorkerStream.failed`).
 */
export interface WorkerKind {
  name: string;
  source: string;
}

/** Memory a view can be moved with: its own, or a copy when it shares it (Node's pool, a larger buffer). */
function owned(b: Uint8Array): ArrayBuffer {
  return b.byteOffset === 0 && b.buffer.byteLength === b.length ? (b.buffer as ArrayBuffer) : new Uint8Array(b).buffer;
}

const workerSource = String.raw`
const { parentPort } = require("node:worker_threads");
const owned = ${owned.toString()};
const kinds = new Map();
const jobs = new Map();
parentPort.on("message", (m) => {
  if (m.type === "define") return void kinds.set(m.name, new Function("require", m.source)(require));
  if (m.type === "open") {
    const kind = kinds.get(m.kind);
    return void jobs.set(m.id, { kind, state: kind.open(m.init) });
  }
  const j = jobs.get(m.id);
  if (!j) return;
  if (m.type === "close") {
    j.kind.close(j.state);
    return void jobs.delete(m.id);
  }
  const out = [];
  let error;
  try {
    if (m.type === "data") for (const c of m.chunks) j.kind.take(j.state, Buffer.from(c), out);
    else j.kind.finish(j.state, out);
  } catch (e) {
    error = e instanceof Error ? { message: e.message } : e;
  }
  const buffers = out.map(owned);
  parentPort.postMessage({ id: m.id, out: buffers, bytes: m.bytes, done: m.type === "end", error }, buffers);
});
`;

interface Reply {
  id: number;
  out: ArrayBuffer[];
  bytes: number;
  done: boolean;
  error?: unknown;
}

type Listener = { reply: (r: Reply) => void; fail: (err: Error) => void };
interface Entry {
  worker: Worker;
  listeners: Map<number, Listener>;
  defined: Set<string>;
}

let workers: Entry[] = [];
let nextId = 1;

function spawn(): Entry {
  const worker = new Worker(workerSource, { eval: true });
  worker.unref(); // an idle worker does not keep the process alive
  const entry: Entry = { worker, listeners: new Map(), defined: new Set() };
  worker.on("message", (r: Reply) => entry.listeners.get(r.id)?.reply(r));
  const lost = (err: Error) => {
    workers = workers.filter((w) => w !== entry);
    for (const l of entry.listeners.values()) l.fail(err);
    entry.listeners.clear();
  };
  worker.on("error", lost);
  worker.on("exit", (code) => lost(new Error(`A cipher worker stopped (exit ${code}).`)));
  return entry;
}

/** Up to one worker per core but one (the event loop's); a new job goes to an idle one, else the least busy. */
function pick(): Entry {
  const idle = workers.find((w) => w.listeners.size === 0);
  if (idle) return idle;
  if (workers.length < Math.max(1, availableParallelism() - 1)) {
    const w = spawn();
    workers.push(w);
    return w;
  }
  return workers.reduce((a, b) => (b.listeners.size < a.listeners.size ? b : a));
}

/** Input sent to the worker at once, and the most not yet answered: enough to keep both threads busy. */
const batchBytes = 1024 * 1024;
const inFlightBytes = 4 * 1024 * 1024;

/**
 * A transform whose work runs on a worker thread, in order, with the output pushed as it comes
 * back. With `handOver`, chunks with memory of their own move to the worker (they are empty
 * afterwards): only for input nothing else still reads, as a storage stream's; otherwise they are
 * copied. Subclasses say what an output is (`output`, by default pushed as is), what a thrown
 * failure means (`failed`) and what the end must show (`ended`).
 */
export abstract class WorkerStream extends Transform {
  private readonly worker: Entry;
  private readonly id = nextId++;
  private batch: Buffer[] = [];
  private batched = 0;
  private inFlight = 0;
  /** The write or flush waiting for the worker to catch up (or to finish). */
  private waiting: TransformCallback | null = null;
  private flushing = false;

  constructor(
    kind: WorkerKind,
    init: object,
    private readonly handOver: boolean,
    opts?: TransformOptions,
  ) {
    super(opts);
    const w = (this.worker = pick());
    w.listeners.set(this.id, { reply: (r) => this.answer(r), fail: (err) => this.destroy(err) });
    w.worker.ref(); // a job under way keeps the process alive
    if (!w.defined.has(kind.name)) {
      w.worker.postMessage({ type: "define", name: kind.name, source: kind.source });
      w.defined.add(kind.name);
    }
    w.worker.postMessage({ type: "open", id: this.id, kind: kind.name, init });
  }

  protected abstract failed(error: unknown): Error;
  protected ended(): Error | null {
    return null;
  }
  protected output(piece: Buffer) {
    this.push(piece);
  }

  private answer(r: Reply) {
    if (this.destroyed) return;
    for (const b of r.out) this.output(Buffer.from(b));
    this.inFlight -= r.bytes;
    if (r.error) return void this.destroy(this.failed(r.error));
    if (r.done) {
      const cb = this.waiting!;
      this.waiting = null;
      this.close();
      cb(this.ended());
    } else if (this.waiting && this.inFlight < inFlightBytes && !this.flushing) {
      const cb = this.waiting;
      this.waiting = null;
      cb();
    }
  }

  private sendBatch() {
    if (this.batched === 0) return;
    const bytes = this.batched;
    const chunks = this.handOver ? this.batch.map(owned) : this.batch.map((c) => new Uint8Array(c).buffer);
    this.batch = [];
    this.batched = 0;
    this.inFlight += bytes;
    try {
      this.worker.worker.postMessage({ type: "data", id: this.id, chunks, bytes }, chunks);
    } catch {
      // Memory that cannot move (external to V8) is copied instead.
      const copies = chunks.map((c) => new Uint8Array(c).slice().buffer);
      this.worker.worker.postMessage({ type: "data", id: this.id, chunks: copies, bytes }, copies);
    }
  }

  private close() {
    const w = this.worker;
    if (!w.listeners.delete(this.id)) return;
    w.worker.postMessage({ type: "close", id: this.id });
    if (w.listeners.size === 0) w.worker.unref();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, cb: TransformCallback) {
    this.batch.push(chunk);
    this.batched += chunk.length;
    if (this.batched >= batchBytes) this.sendBatch();
    if (this.inFlight < inFlightBytes) cb();
    else this.waiting = cb;
  }

  override _flush(cb: TransformCallback) {
    this.sendBatch();
    this.flushing = true;
    this.waiting = cb;
    this.worker.worker.postMessage({ type: "end", id: this.id, bytes: 0 });
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void) {
    this.batch = [];
    this.close();
    cb(err);
  }
}

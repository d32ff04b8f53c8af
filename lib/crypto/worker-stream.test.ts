import { availableParallelism } from "node:os";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { WorkerStream, type WorkerKind } from "./worker-stream";

// Kinds for the test, run on the same workers as the ciphers: one passes its input on, one makes
// its worker thread exit while it works (as a crash or an out-of-memory kill of that thread would).
const copy: WorkerKind = {
  name: "test-copy",
  source:
    "return { open: () => ({}), take: (s, c, out) => out.push(Buffer.from(c)), finish: () => {}, close: () => {} };",
};
const crash: WorkerKind = {
  name: "test-crash",
  source: "return { open: () => ({}), take: () => process.exit(7), finish: () => {}, close: () => {} };",
};

class Job extends WorkerStream {
  constructor(kind: WorkerKind) {
    super(kind, {}, false);
  }
  protected failed(error: unknown): Error {
    return new Error(String((error as { message?: unknown }).message));
  }
}

const chunks = (n: number) => Array.from({ length: n }, (_, i) => Buffer.alloc(256 * 1024, i));
const sink = (seen: Buffer[]) =>
  new Writable({
    write(c: Buffer, _e, cb) {
      seen.push(c);
      cb();
    },
  });

describe("WorkerStream", () => {
  it("passes every byte through a worker, in order", async () => {
    const seen: Buffer[] = [];
    await pipeline(Readable.from(chunks(20)), new Job(copy), sink(seen));
    expect(Buffer.concat(seen).equals(Buffer.concat(chunks(20)))).toBe(true);
  });

  it("fails the jobs of a worker that stops, instead of leaving them waiting, and later jobs get a new worker", async () => {
    // One job under way (input not ended) per worker, so the crashing job shares a worker with one.
    const workers = Math.max(1, availableParallelism() - 1);
    const inputs = Array.from({ length: workers }, () => new Readable({ read() {} }));
    const outcomes = inputs.map((input) => {
      input.push(Buffer.alloc(64 * 1024, 1));
      return pipeline(input, new Job(copy), sink([])).then(
        () => "finished",
        (e: Error) => e.message,
      );
    });
    try {
      await expect(pipeline(Readable.from(chunks(8)), new Job(crash), sink([]))).rejects.toThrow(
        "A cipher worker stopped (exit 7).",
      );
      const pending = new Promise((resolve) => setTimeout(() => resolve("pending"), 200));
      const now = await Promise.all(outcomes.map((o) => Promise.race([o, pending])));
      expect(now.filter((o) => o === "A cipher worker stopped (exit 7).")).toHaveLength(1);
      expect(now.filter((o) => o === "pending")).toHaveLength(workers - 1);

      // The jobs on the other workers, and a new one, still finish.
      for (const input of inputs) input.push(null);
      const seen: Buffer[] = [];
      await pipeline(Readable.from(chunks(4)), new Job(copy), sink(seen));
      expect(Buffer.concat(seen).equals(Buffer.concat(chunks(4)))).toBe(true);
      expect((await Promise.all(outcomes)).filter((o) => o === "finished")).toHaveLength(workers - 1);
    } finally {
      for (const input of inputs) input.destroy(); // after a failed assertion too: no job left holding a worker
    }
  });
});

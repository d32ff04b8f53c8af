import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { fanOut, type FanOutTarget } from "./fanout";

const CHUNK = 16 * 1024;

/**
 * `count` random chunks (endless without one), read one chunk ahead at most: `read` counts what
 * left the source, and `onRead` sees each new total.
 */
function source(count = Infinity, onRead?: (read: number) => void) {
  const state = { read: 0, chunks: [] as Buffer[] };
  const stream = Readable.from(
    (function* () {
      for (let i = 0; i < count; i++) {
        const chunk = randomBytes(CHUNK);
        state.chunks.push(chunk);
        state.read += chunk.length;
        onRead?.(state.read);
        yield chunk;
      }
    })(),
    { highWaterMark: 1 },
  );
  return { stream, state };
}

/** Reads its body to the end (waiting `delayMs` after each chunk) and resolves with what it read. */
function collector(delayMs = 0, onChunk?: (total: number) => void): FanOutTarget<Buffer> {
  return {
    async write(body) {
      const parts: Buffer[] = [];
      let total = 0;
      for await (const c of body) {
        parts.push(c as Buffer);
        total += (c as Buffer).length;
        onChunk?.(total);
        if (delayMs) await sleep(delayMs);
      }
      return Buffer.concat(parts);
    },
  };
}

describe("fanOut", () => {
  it("writes the whole stream to every target in one pass", async () => {
    const { stream, state } = source(64);
    const seen: number[] = [];
    const out = await fanOut(stream, [collector(), collector(), collector()], { onBytes: (n) => seen.push(n) });
    const all = Buffer.concat(state.chunks);
    expect(out.error).toBeUndefined();
    expect(out.failedTarget).toBeUndefined();
    expect(out.bytes).toBe(all.length);
    expect(seen.at(-1)).toBe(all.length);
    expect(out.results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled"]);
    for (const r of out.results) expect((r as PromiseFulfilledResult<Buffer>).value.equals(all)).toBe(true);
    expect(state.read).toBe(all.length); // read once, not once per target
  });

  it("the slowest target sets the pace: the source never runs more than a few buffers ahead of it", async () => {
    const bufferBytes = 64 * 1024;
    let taken = 0;
    let lead = 0;
    const { stream, state } = source(256, (read) => (lead = Math.max(lead, read - taken))); // 4 MiB
    const slow = collector(1, (total) => (taken = total));
    const out = await fanOut(stream, [collector(), slow, collector()], { bufferBytes });
    expect(out.error).toBeUndefined();
    const all = Buffer.concat(state.chunks);
    for (const r of out.results) expect((r as PromiseFulfilledResult<Buffer>).value.equals(all)).toBe(true);
    expect(lead).toBeGreaterThan(0);
    expect(lead).toBeLessThanOrEqual(8 * bufferBytes); // without backpressure it would be most of the 4 MiB
  });

  it("a failing target stops the others and the source, and is named", async () => {
    const { stream, state } = source();
    const broken = new Error("disk full");
    const failing: FanOutTarget<Buffer> = {
      async write(body) {
        let total = 0;
        for await (const c of body) {
          total += (c as Buffer).length;
          if (total > 256 * 1024) throw broken;
        }
        return Buffer.alloc(0);
      },
    };
    const out = await fanOut(stream, [collector(), failing, collector(1)]);
    expect(out.error).toBe(broken);
    expect(out.failedTarget).toBe(1);
    expect(out.results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect((out.results[1] as PromiseRejectedResult).reason).toBe(broken);
    expect(stream.destroyed).toBe(true);
    expect(state.read).toBeLessThan(4 * 1024 * 1024); // the endless source stopped soon after
  });

  it("a failing source stops every target", async () => {
    const broken = new Error("connection reset");
    const stream = new Readable({ read() {} });
    stream.push(randomBytes(CHUNK));
    setTimeout(() => stream.destroy(broken), 20);
    const out = await fanOut(stream, [collector(), collector()]);
    expect(out.error).toBe(broken);
    expect(out.failedTarget).toBeUndefined();
    expect(out.results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  });

  it("aborting stops every target and the source with the caller's reason", async () => {
    const { stream, state } = source();
    const abort = new AbortController();
    const reason = new Error("Cancelled by a team member.");
    const signals: AbortSignal[] = [];
    const target = (): FanOutTarget<Buffer> => ({
      write(body, signal) {
        signals.push(signal);
        return collector(1).write(body, signal);
      },
    });
    const out = await fanOut(stream, [target(), target()], {
      signal: abort.signal,
      onBytes: (n) => n > 128 * 1024 && abort.abort(reason),
    });
    expect(out.error).toBe(reason);
    expect(out.failedTarget).toBeUndefined();
    expect(out.results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(stream.destroyed).toBe(true);
    expect(state.read).toBeLessThan(4 * 1024 * 1024);
  });

  it("an already aborted signal writes nothing", async () => {
    const { stream } = source();
    const abort = new AbortController();
    abort.abort(new Error("stopped"));
    const out = await fanOut(stream, [collector()], { signal: abort.signal });
    expect(out.bytes).toBe(0);
    expect(out.results[0]!.status).toBe("rejected");
    expect((out.error as Error).message).toBe("stopped");
  });
});

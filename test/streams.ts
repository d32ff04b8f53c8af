import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";

const MiB = 1024 * 1024;

/**
 * A stream of `total` bytes that never repeat within a run, made 1 MiB at a time (never held
 * whole; each chunk a fresh buffer, as a real source hands over), with its SHA-256 once read.
 * The bytes are a random pool copied at shifting offsets with a counter: far cheaper than
 * `randomBytes` for gigabytes, and just as incompressible to a storage service.
 */
export function generatedSource(total: number, opts: { failAfter?: number; onProgress?: (sent: number) => void } = {}) {
  const pool = randomBytes(8 * MiB);
  const hash = createHash("sha256");
  let sent = 0;
  let n = 0;
  const stream = new Readable({
    highWaterMark: MiB,
    read() {
      if (opts.failAfter !== undefined && sent >= opts.failAfter) {
        this.destroy(new Error("source failed on purpose"));
        return;
      }
      if (sent >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(MiB, total - sent);
      const chunk = Buffer.allocUnsafe(size);
      const offset = (n * 7919) % (pool.length - MiB);
      pool.copy(chunk, 0, offset, offset + size);
      if (size >= 8) chunk.writeBigUInt64LE(BigInt(n), 0);
      n++;
      hash.update(chunk);
      sent += size;
      opts.onProgress?.(sent);
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest("hex") };
}

export async function hashStream(stream: Readable): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const c of stream) {
    hash.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { size, sha256: hash.digest("hex") };
}

/** Samples the RSS every 25 ms until stopped; figures in MB. */
export function rssMeter() {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
  return () => {
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    return {
      baseMB: Math.round(base / MiB),
      peakMB: Math.round(peak / MiB),
      growthMB: Math.round((peak - base) / MiB),
    };
  };
}

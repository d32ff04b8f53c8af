import { PassThrough, type Readable } from "node:stream";

export interface FanOutTarget<T> {
  /** Consumes `body` to its end (or rejects); aborting `signal` must make it stop and reject. */
  write(body: Readable, signal: AbortSignal): Promise<T>;
}

export interface FanOutResult<T> {
  results: PromiseSettledResult<T>[];
  /** Bytes read from the source. */
  bytes: number;
  /** What stopped the fan-out (the first failure, or the caller's abort reason), if anything did. */
  error?: unknown;
  /** The index of the target whose failure stopped it, when one did. */
  failedTarget?: number;
}

/**
 * Writes one stream to every target in a single pass. Each target reads from its own small buffer
 * and a full one pauses the source, so the slowest sets the pace and memory stays flat. The first
 * failure aborts the others and the source (all-or-nothing); settles once every target has.
 */
export async function fanOut<T>(
  source: Readable,
  targets: FanOutTarget<T>[],
  opts: { signal?: AbortSignal; onBytes?: (total: number) => void; bufferBytes?: number } = {},
): Promise<FanOutResult<T>> {
  const abort = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, abort.signal]) : abort.signal;
  const pipes = targets.map(() => new PassThrough({ highWaterMark: opts.bufferBytes ?? 1024 * 1024 }));
  let bytes = 0;
  let waiting = 0;
  let failedTarget: number | undefined;

  const fail = (err: unknown) => {
    if (!abort.signal.aborted) abort.abort(err);
  };
  const onAbort = () => {
    const reason = signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
    source.destroy(reason);
    for (const p of pipes) p.destroy(reason);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });

  source.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    opts.onBytes?.(bytes);
    for (const p of pipes) {
      if (!p.write(chunk)) {
        waiting++;
        source.pause();
        p.once("drain", () => {
          if (--waiting === 0 && !signal.aborted) source.resume();
        });
      }
    }
  });
  source.once("end", () => {
    for (const p of pipes) p.end();
  });
  source.once("error", fail);

  const results = await Promise.allSettled(
    targets.map((t, i) =>
      t.write(pipes[i]!, signal).catch((err: unknown) => {
        if (!signal.aborted) failedTarget = i;
        fail(err);
        throw err;
      }),
    ),
  );
  signal.removeEventListener("abort", onAbort);
  return { results, bytes, error: signal.aborted ? signal.reason : undefined, failedTarget };
}

// Waiting on streams so that stopping the restore (an AbortSignal) ends every wait at once.

interface Waiter {
  once(event: "drain", listener: () => void): unknown;
  off?(event: "drain", listener: () => void): unknown;
  removeListener?(event: "drain", listener: () => void): unknown;
}

/** Resolves on 'drain', rejects when `stop` aborts. */
export function drained(stream: Waiter, stop: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (stop.aborted) return reject(stop.reason);
    const onAbort = () => {
      (stream.off ?? stream.removeListener)?.call(stream, "drain", onDrain);
      reject(stop.reason);
    };
    const onDrain = () => {
      stop.removeEventListener("abort", onAbort);
      resolve();
    };
    stream.once("drain", onDrain);
    stop.addEventListener("abort", onAbort, { once: true });
  });
}

/** Settles like `promise`, or rejects as soon as `stop` aborts. */
export function untilStopped<T>(promise: Promise<T>, stop: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (stop.aborted) return reject(stop.reason);
    const onAbort = () => reject(stop.reason);
    stop.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        stop.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        stop.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** Something a `with…(fn)` function opened, held open until `release()`. */
export interface Held<R> {
  value: R;
  /** Lets the `with…` function close it; resolves once it did. Idempotent. */
  release(): Promise<void>;
}

/**
 * Turns a `with…(fn)` function (a server connection, a destination) into an open/close pair, so
 * the code using it reads top to bottom. Resolves once it is open; rejects when opening fails.
 */
export async function hold<R>(using: (fn: (value: R) => Promise<void>) => Promise<void>): Promise<Held<R>> {
  let letGo!: () => void;
  const released = new Promise<void>((resolve) => (letGo = resolve));
  let opened!: (value: R) => void;
  const value = new Promise<R>((resolve) => (opened = resolve));
  const closed = using(async (v) => {
    opened(v);
    await released;
  });
  const ended = closed.then(() => {
    throw new Error("It closed before it opened.");
  });
  return {
    value: await Promise.race([value, ended]),
    release: () => {
      letGo();
      return closed;
    },
  };
}

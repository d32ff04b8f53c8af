import "server-only";

// On globalThis for the same reason as the dispatcher (./dispatch.ts): one flag per process.
const KEY = Symbol.for("coffer.workflow-stopping");
type Holder = { [KEY]?: number };

/** SIGTERM arrived (inngest/start.ts): this instance takes no new runs, and says so when asked if it is ready. */
export function markStopping(): void {
  (globalThis as Holder)[KEY] ??= Date.now();
}

export function isStopping(): boolean {
  return (globalThis as Holder)[KEY] !== undefined;
}

/** How long ago SIGTERM arrived, in milliseconds; null while running. */
export function stoppingFor(): number | null {
  const since = (globalThis as Holder)[KEY];
  return since === undefined ? null : Date.now() - since;
}

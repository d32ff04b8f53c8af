import "server-only";

// On globalThis for the same reason as the dispatcher (./dispatch.ts): one flag per process.
const KEY = Symbol.for("coffer.workflow-stopping");
type Holder = { [KEY]?: true };

/** SIGTERM arrived (inngest/start.ts): this instance takes no new runs or steps, and says so when asked if it is ready. */
export function markStopping(): void {
  (globalThis as Holder)[KEY] = true;
}

export function isStopping(): boolean {
  return (globalThis as Holder)[KEY] === true;
}

import "server-only";
import { log } from "../log";
import type { BackupJob, RestoreJob, RetentionScope } from "./events";

/** What lib can ask of the workflow engine. Asking twice for the same job starts it once. */
export interface Dispatcher {
  backupRequested(job: BackupJob): Promise<void>;
  /** A restore, or a verification when `kind` is `verify`. */
  restoreRequested(job: RestoreJob): Promise<void>;
  /** `reason` tells requests apart: one run per finished backup, per saved policy, per day. */
  retentionRequested(request: { teamId: string; scope: RetentionScope; reason: string }): Promise<void>;
  /** Notification deliveries are waiting (lib/notifications coalesces the calls). */
  deliveriesQueued(): Promise<void>;
}

// Next.js loads lib/ once per bundle (instrumentation, each route), so the engine registers on globalThis.
const KEY = Symbol.for("coffer.workflow-dispatcher");
type Holder = { [KEY]?: Dispatcher };

/** The workflow engine registers itself when it starts (inngest/start.ts; in tests, the test's engine). */
export function registerDispatcher(dispatcher: Dispatcher): void {
  (globalThis as Holder)[KEY] = dispatcher;
}

/** Whether an engine has registered (readiness: work asked for now would start). */
export function dispatcherRegistered(): boolean {
  return (globalThis as Holder)[KEY] !== undefined;
}

async function tryDispatch(failed: string, context: Record<string, unknown>, ask: (d: Dispatcher) => Promise<void>) {
  try {
    const dispatcher = (globalThis as Holder)[KEY];
    if (!dispatcher) throw new Error("No workflow engine is registered (inngest/start.ts registers it at start).");
    await ask(dispatcher);
  } catch (err) {
    log.warn(failed, { ...context, err });
  }
}

/**
 * Starts work already stored as queued. Never throws: a lost request is made again by the sweeper
 * (queued backups, restores and verifications) or by the daily retention run.
 */
export const dispatch: Dispatcher = {
  backupRequested: (job) =>
    tryDispatch("backup dispatch failed; the sweeper retries it", { backupId: job.backupId }, (d) =>
      d.backupRequested(job),
    ),
  restoreRequested: (job) =>
    tryDispatch("restore dispatch failed; the sweeper retries it", { restoreId: job.restoreId }, (d) =>
      d.restoreRequested(job),
    ),
  retentionRequested: (request) =>
    tryDispatch("retention dispatch failed", request.scope, (d) => d.retentionRequested(request)),
  // Without an engine (scripts, most tests) the every-minute delivery run picks them up: nothing to warn about.
  deliveriesQueued: () =>
    dispatcherRegistered()
      ? tryDispatch("notification wake-up failed; the next minute's run delivers", {}, (d) => d.deliveriesQueued())
      : Promise.resolve(),
};

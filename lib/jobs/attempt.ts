import "server-only";
import { eq } from "drizzle-orm";
import { db } from "../db";
import { log } from "../log";
import { failureMessage, RunStopped } from "./failure";
import { inTeam } from "../teams/context";
import { instanceId } from "../workflows/instance";
import { HANDED_BACK } from "./hand-back";
import { jobLog } from "./log";
import { jobTable, ours, type RunningJob } from "./table";

/** How often a running job records its progress and heartbeat (and reads a cancel request). */
export const PROGRESS_INTERVAL_MS = 1_000;

/** One execution of a claimed job: its abort signal, its log and its progress. */
export interface Attempt {
  /** Aborted when someone asks to cancel the job, or its row stops running under this claim. */
  signal: AbortSignal;
  say(line: string): void;
  sayError(line: string): void;
  /** Bytes done so far; never goes back within the attempt (a backup's dumps, then the same bytes streamed; a restore reading another copy). */
  progress(bytes: number): void;
  /** Stops the heartbeat (waiting for an update in flight): from then on only the caller's guarded write decides. */
  settle(): Promise<void>;
  /** Logs why the attempt failed and returns what to throw: a cancel or stop seen meanwhile wins. */
  failed(err: unknown): unknown;
  close(): Promise<void>;
}

export function startAttempt(job: RunningJob): Attempt {
  const say = jobLog(job);
  const abort = new AbortController();
  const watch = watchProgress(job, abort);
  return {
    signal: abort.signal,
    say: say.info,
    sayError: say.error,
    progress: watch.set,
    settle: watch.stop,
    failed(err) {
      const reason = abort.signal.aborted && abort.signal.reason instanceof RunStopped ? abort.signal.reason : err;
      say.error(failureMessage(reason, { [`${job.kind}Id`]: job.id }));
      return reason;
    },
    async close() {
      await watch.stop();
      await say.flush();
      await letGo(job);
    },
  };
}

/**
 * Ends this process's claim on a job still running under it (a retry then claims it afresh, not as
 * resumed; with an Inngest server the sweeper leaves it to the retry). Each attempt does at its
 * end; a caller whose work failed before an attempt started does it itself.
 */
export async function letGo(job: RunningJob) {
  const table = jobTable(job.kind);
  const d = await db();
  await d
    .update(table)
    .set({ claimedBy: null })
    .where(ours(job, eq(table.claimedBy, instanceId())));
}

/** Why a job stopped running under this claim: handed back at a shutdown, taken over, or failed meanwhile (the error it was failed with). */
async function whyStopped(job: RunningJob): Promise<string> {
  const table = jobTable(job.kind);
  const d = await db();
  const [row] = await d
    .select({ status: table.status, attempts: table.attempts, error: table.error })
    .from(table)
    .where(inTeam(table, job.t, eq(table.id, job.id)));
  if (row?.status === "queued") return HANDED_BACK;
  const what = job.kind === "backup" ? "run" : "job";
  // A later claim may also have finished the job by now.
  if (row && row.attempts !== job.attempt) return `A later attempt took over the ${what}.`;
  return row?.error ?? `The ${what} was stopped: it was marked as failed while running.`;
}

/**
 * Every PROGRESS_INTERVAL_MS writes the bytes so far and a heartbeat, and aborts the work when
 * someone asked to cancel it or the row stopped running under this claim (the sweeper failed it).
 */
function watchProgress(job: RunningJob, abort: AbortController) {
  const table = jobTable(job.kind);
  let bytes = 0;
  let inFlight: Promise<void> | undefined;
  const update = async () => {
    try {
      const d = await db();
      const [row] = await d
        .update(table)
        .set({ bytesDone: bytes, heartbeatAt: new Date() })
        .where(ours(job))
        .returning({ cancelBy: table.cancelRequestedBy, cancelAt: table.cancelRequestedAt });
      if (!row) abort.abort(new RunStopped(await whyStopped(job)));
      else if (row.cancelAt) abort.abort(new RunStopped(`Cancelled by ${row.cancelBy ?? "a team member"}.`));
    } catch (err) {
      log.warn("progress update failed", { id: job.id, err });
    }
  };
  const timer = setInterval(() => {
    inFlight ??= update().finally(() => (inFlight = undefined));
  }, PROGRESS_INTERVAL_MS);
  return {
    set: (n: number) => (bytes = Math.max(bytes, n)),
    stop: async () => {
      clearInterval(timer);
      await inFlight;
    },
  };
}

import "server-only";
import { eq, inArray, isNull, sql } from "drizzle-orm";
import { db, type Transaction } from "../db";
import { env } from "../env";
import { AppError } from "../errors";
import { instanceId, liveInstancesAllTeams } from "../workflows/instance";
import { inTeam, type TeamContext } from "../teams/context";
import { RunStopped } from "./failure";
import { appendJobLog } from "./log";
import { STALE_AFTER_MS } from "./sweep";
import { jobTable, runningJob, type Job, type JobKind, type RunningJob } from "./table";

/**
 * Starts (or, on a retry, restarts) a queued or running job nobody asked to cancel. Resolves with
 * the claim, or null when there is nothing to do: it finished, was cancelled, or does not exist.
 */
export async function claimJob(job: Job): Promise<number | null> {
  return (await claim(job))?.attempt ?? null;
}

/** How long an Inngest server waits for one step's answer (its MaxFunctionTimeout) before it sends the step again. */
export const INNGEST_STEP_LIMIT_MS = 2 * 3_600_000;

/**
 * Whether the running attempt is still alive (a fresh heartbeat) and began about INNGEST_STEP_LIMIT_MS
 * ago, with workflows on an Inngest server: the step is being sent again because the server stopped
 * waiting, and every attempt would end the same way. A process that died leaves no fresh heartbeat,
 * and a dropped connection comes sooner.
 */
function outlastedInngestStep(row: { heartbeatAt: Date | null; attemptStartedAt: Date | null }, now: Date): boolean {
  return (
    env().workflows === "inngest" &&
    !!row.heartbeatAt &&
    now.getTime() - row.heartbeatAt.getTime() < STALE_AFTER_MS &&
    !!row.attemptStartedAt &&
    now.getTime() - row.attemptStartedAt.getTime() >= INNGEST_STEP_LIMIT_MS - 60_000
  );
}

/**
 * Claims a job for this process (recording this instance on it): every execution of a job's step
 * makes its own claim, which stops any execution under an earlier one (its writes are guarded by
 * the claim). The run log says why an earlier claim was still held: its process ended without
 * finishing (`resumed`: a restart or crash; what it left on the server is to be removed), or it
 * still runs and the workflow engine sent the step again (it lost the connection to it). With an
 * Inngest server, a step still running after the server's limit fails the job instead (TOO_LARGE).
 */
export async function claim(job: Job): Promise<{ attempt: number; resumed: boolean } | null> {
  const table = jobTable(job.kind);
  const d = await db();
  // Instances record that they are alive only when they run the workflows themselves; with an
  // Inngest server a holder whose job still beats is alive. Read before the transaction: PGlite
  // has one connection, which the transaction holds.
  const inngest = env().workflows === "inngest";
  const live = inngest ? new Set([instanceId()]) : await liveInstancesAllTeams();
  const me = instanceId();
  const now = new Date();
  const result = await d.transaction(async (tx) => {
    const [row] = await tx
      .select({
        status: table.status,
        attempts: table.attempts,
        claimedBy: table.claimedBy,
        heartbeatAt: table.heartbeatAt,
        attemptStartedAt: table.attemptStartedAt,
      })
      .from(table)
      .where(
        inTeam(
          table,
          { id: job.teamId },
          eq(table.id, job.id),
          inArray(table.status, ["queued", "running"]),
          isNull(table.cancelRequestedAt),
        ),
      )
      .for("update");
    if (!row) return null;
    if (row.status === "running" && outlastedInngestStep(row, now)) return { outlasted: true as const };
    const held = row.status === "running" && row.claimedBy !== null;
    const beats = !!row.heartbeatAt && now.getTime() - row.heartbeatAt.getTime() < STALE_AFTER_MS;
    const resumed = held && !live.has(row.claimedBy!) && !(inngest && beats);
    await tx
      .update(table)
      .set({
        status: "running",
        startedAt: sql`coalesce(${table.startedAt}, now())`,
        heartbeatAt: now,
        attemptStartedAt: now,
        attempts: row.attempts + 1,
        claimedBy: me,
        error: null,
        bytesDone: 0,
      })
      .where(inTeam(table, { id: job.teamId }, eq(table.id, job.id)));
    return { attempt: row.attempts + 1, resumed, repeated: held && !resumed };
  });
  if (!result) return null;
  if ("outlasted" in result)
    throw new AppError(
      "TOO_LARGE",
      job.kind === "backup"
        ? "This backup ran for 2 hours, the longest an Inngest server waits for one step; it would only start again and be cut off again. Backups that take longer need Coffer's own workflows (one instance without INNGEST_ settings), or back up less at once (fewer sources per schedule)."
        : "This job ran for 2 hours, the longest an Inngest server waits for one step; it would only start again and be cut off again. Restores and verifications that take longer need Coffer's own workflows (one instance without INNGEST_ settings).",
    );
  const n = result.attempt;
  await appendJobLog(
    job,
    "info",
    result.resumed
      ? `Attempt ${n} started: resumed after an interruption (the process making attempt ${n - 1} ended before it finished: a restart or crash).`
      : result.repeated
        ? `Attempt ${n} started: the step was sent again while attempt ${n - 1} still ran (the workflow engine lost the connection to it); attempt ${n - 1} stops.`
        : n > 1
          ? `Attempt ${n} started.`
          : "Started.",
  );
  return { attempt: n, resumed: result.resumed };
}

/** After a claim found nothing to do: throws RunStopped when that is because someone asked to cancel the running job. */
export async function stopIfCancelRequested(job: Job): Promise<void> {
  const table = jobTable(job.kind);
  const d = await db();
  const [cancelled] = await d
    .select({ by: table.cancelRequestedBy })
    .from(table)
    .where(inTeam(table, { id: job.teamId }, eq(table.id, job.id), eq(table.status, "running")));
  if (cancelled) throw new RunStopped(`Cancelled by ${cancelled.by ?? "a team member"}.`);
}

/** Claims a job inserted in `tx` to run at once (an upload, a safety backup): its first attempt. */
export async function claimNew(tx: Transaction, kind: JobKind, t: TeamContext, id: string): Promise<RunningJob> {
  const table = jobTable(kind);
  const now = new Date();
  await tx
    .update(table)
    .set({
      status: "running",
      startedAt: now,
      heartbeatAt: now,
      attemptStartedAt: now,
      attempts: 1,
      claimedBy: instanceId(),
    })
    .where(inTeam(table, t, eq(table.id, id)));
  return runningJob(kind, t, id, 1);
}

/**
 * Whether a later claim took the job over from `job` (what `job` wrote under the job's names is
 * that claim's now): "unknown" when the row cannot be read, and the caller must then leave what
 * it wrote be.
 */
export async function replaced(job: RunningJob): Promise<boolean | "unknown"> {
  const table = jobTable(job.kind);
  try {
    const d = await db();
    const [row] = await d
      .select({ attempts: table.attempts })
      .from(table)
      .where(inTeam(table, job.t, eq(table.id, job.id)));
    return !row || row.attempts !== job.attempt;
  } catch {
    return "unknown";
  }
}

import "server-only";
import { eq, inArray, isNull, sql } from "drizzle-orm";
import { db, type Transaction } from "../db";
import { inTeam, type TeamContext } from "../teams/context";
import { RunStopped } from "./failure";
import { appendJobLog } from "./log";
import { jobTable, runningJob, type Job, type JobKind, type RunningJob } from "./table";

/**
 * Starts (or, on a retry, restarts) a queued or running job nobody asked to cancel. Resolves with
 * the claim, or null when there is nothing to do: it finished, was cancelled, or does not exist.
 */
export async function claimJob(job: Job): Promise<number | null> {
  const table = jobTable(job.kind);
  const d = await db();
  const [row] = await d
    .update(table)
    .set({
      status: "running",
      startedAt: sql`coalesce(${table.startedAt}, now())`,
      heartbeatAt: new Date(),
      attempts: sql`${table.attempts} + 1`,
      error: null,
      bytesDone: 0,
    })
    .where(
      inTeam(
        table,
        { id: job.teamId },
        eq(table.id, job.id),
        inArray(table.status, ["queued", "running"]),
        isNull(table.cancelRequestedAt),
      ),
    )
    .returning({ attempts: table.attempts });
  if (!row) return null;
  await appendJobLog(job, "info", row.attempts > 1 ? `Attempt ${row.attempts} started.` : "Started.");
  return row.attempts;
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
    .set({ status: "running", startedAt: now, heartbeatAt: now, attempts: 1 })
    .where(inTeam(table, t, eq(table.id, id)));
  return runningJob(kind, t, id, 1);
}

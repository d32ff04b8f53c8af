import "server-only";
import { eq, type SQL } from "drizzle-orm";
import { backups, restores } from "@/db/schema";
import { inTeam, type TeamContext } from "../teams/context";
import { RunStopped } from "./failure";

/**
 * Jobs are the rows that run work: backups, and restores (restores and verifications). Both
 * tables carry the same lifecycle columns: status, attempts, heartbeat, progress, cancel request.
 */
export type JobKind = "backup" | "restore";

export interface Job {
  kind: JobKind;
  teamId: string;
  id: string;
}

/** A job this process claimed: `attempt` is the claim (the attempts count its claim set). */
export interface RunningJob extends Job {
  t: TeamContext;
  attempt: number;
}

export const jobTable = (kind: JobKind) => (kind === "backup" ? backups : restores);

export const runningJob = (kind: JobKind, t: TeamContext, id: string, attempt: number): RunningJob => ({
  kind,
  teamId: t.id,
  t,
  id,
  attempt,
});

/**
 * The job's row while it runs under this claim. Every write of a running job is guarded by it, so
 * an execution that another claim replaced (or the sweeper failed) stops writing.
 */
export function ours(job: RunningJob, ...more: SQL[]): SQL {
  const table = jobTable(job.kind);
  return inTeam(
    table,
    job.t,
    eq(table.id, job.id),
    eq(table.status, "running"),
    eq(table.attempts, job.attempt),
    ...more,
  );
}

/** Throws RunStopped unless the loaded row still runs under `attempt` (`what` names it in the message). */
export function assertClaim(what: string, row: { status: string; attempts: number }, attempt: number): void {
  if (row.status !== "running") throw new RunStopped(`The ${what} is ${row.status}; it is not run again.`);
  if (row.attempts !== attempt) throw new RunStopped(`A later attempt took over the ${what}.`);
}

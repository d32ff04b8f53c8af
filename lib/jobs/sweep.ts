import { and, eq, isNotNull, isNull, lt, not, or, type SQL } from "drizzle-orm";
import { env } from "../env";
import { pendingRunFor } from "../workflows/queue";
import { jobTable, type JobKind } from "./table";

/** A running job whose progress is older than this belongs to a process that is gone. */
export const STALE_AFTER_MS = 60_000;

/**
 * With an Inngest server, how long a job whose attempt ended (and let its claim go) may wait for
 * the server's retry before it counts as lost: the retry's backoff, and the wait for its server's
 * turn, are the server's, and often longer than STALE_AFTER_MS.
 */
export const INNGEST_RETRY_WAIT_MS = 24 * 3_600_000;

/**
 * Running jobs a dead process left behind: no progress for STALE_AFTER_MS, and no run in the
 * in-process engine's queue that will take them up again (for the sweepers, across teams). With
 * an Inngest server, one between attempts only after INNGEST_RETRY_WAIT_MS.
 */
export function staleAllTeams(kind: JobKind, now: Date): SQL {
  const table = jobTable(kind);
  const quietFor = (ms: number) => or(lt(table.heartbeatAt, new Date(now.getTime() - ms)), isNull(table.heartbeatAt))!;
  return and(
    eq(table.status, "running"),
    env().workflows === "inngest"
      ? or(
          and(isNotNull(table.claimedBy), quietFor(STALE_AFTER_MS)),
          and(isNull(table.claimedBy), quietFor(INNGEST_RETRY_WAIT_MS)),
        )
      : quietFor(STALE_AFTER_MS),
    not(pendingRunFor(table.id)),
  )!;
}

/** Queued jobs that waited longer than `ms` with no run queued for them: their events may have been lost (across teams). */
export function waitingAllTeams(kind: JobKind, now: Date, ms: number): SQL {
  const table = jobTable(kind);
  return and(
    eq(table.status, "queued"),
    lt(table.createdAt, new Date(now.getTime() - ms)),
    not(pendingRunFor(table.id)),
  )!;
}

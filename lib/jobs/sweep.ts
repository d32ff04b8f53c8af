import { and, eq, isNull, lt, not, or, type SQL } from "drizzle-orm";
import { pendingRunFor } from "../workflows/queue";
import { jobTable, type JobKind } from "./table";

/** A running job whose progress is older than this belongs to a process that is gone. */
export const STALE_AFTER_MS = 60_000;

/**
 * Running jobs a dead process left behind: no progress for STALE_AFTER_MS, and no run in the
 * in-process engine's queue that will take them up again (for the sweepers, across teams).
 */
export function staleAllTeams(kind: JobKind, now: Date): SQL {
  const table = jobTable(kind);
  return and(
    eq(table.status, "running"),
    or(lt(table.heartbeatAt, new Date(now.getTime() - STALE_AFTER_MS)), isNull(table.heartbeatAt)),
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

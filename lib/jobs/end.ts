import "server-only";
import { eq, inArray, sql, type SQL } from "drizzle-orm";
import { db } from "../db";
import { inTeam, type TeamContext } from "../teams/context";
import { appendJobLog } from "./log";
import { jobTable, type JobKind } from "./table";

/**
 * Ends a queued or running job that did not succeed: failed, or cancelled when someone asked,
 * with `message` as its error (`also`: a backup drops its data key and records leftovers with it), and only while
 * `onlyIf` holds (the sweeper's: still stale). Resolves with the new status, or null when it had
 * already ended (or `onlyIf` no longer held).
 */
export async function markEnded(
  kind: JobKind,
  t: TeamContext,
  id: string,
  message: string,
  also: { dekWrapped?: null; dekKeyId?: null; headerKeyId?: null; leftoversPendingAt?: Date } = {},
  onlyIf?: SQL,
): Promise<"failed" | "cancelled" | null> {
  const table = jobTable(kind);
  const status = sql.raw(table.status.getSQLType());
  const d = await db();
  const [row] = await d
    .update(table)
    .set({
      status: sql`case when ${table.cancelRequestedAt} is null then 'failed'::${status} else 'cancelled'::${status} end`,
      finishedAt: new Date(),
      error: message.slice(0, 2000),
      ...also,
    })
    .where(inTeam(table, t, eq(table.id, id), inArray(table.status, ["queued", "running"]), onlyIf))
    .returning({ status: table.status });
  return row ? (row.status as "failed" | "cancelled") : null;
}

/** The job log's last word on a job `markEnded` ended. */
export function logEnded(kind: JobKind, t: TeamContext, id: string, status: "failed" | "cancelled", message: string) {
  return appendJobLog(
    { kind, teamId: t.id, id },
    "error",
    status === "cancelled" ? `Cancelled. ${message}` : `Failed: ${message}`,
  );
}

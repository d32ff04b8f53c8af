import "server-only";
import { and, eq, isNull } from "drizzle-orm";
import { restores } from "@/db/schema";
import { db } from "../db";
import { instanceId } from "../workflows/instance";
import { appendJobLog } from "./log";
import { jobTable, type JobKind } from "./table";

export const HANDED_BACK =
  "Coffer is shutting down: this attempt stops here, and the job is queued to run again when Coffer is back.";

/**
 * At shutdown, after the grace period: the jobs this process still runs go back to "queued" (their
 * attempts see it with their next progress update, stop and remove what they wrote), for the next
 * instance to run again. A restore already putting its database in place is left to finish or,
 * if the process ends first, to be finished by the next one. Resolves with how many went back.
 */
export async function handBackJobsAllTeams(): Promise<number> {
  const d = await db();
  let n = 0;
  for (const kind of ["backup", "restore"] as JobKind[]) {
    const table = jobTable(kind);
    const rows = await d
      .update(table)
      .set({ status: "queued", claimedBy: null, heartbeatAt: null })
      .where(
        and(
          eq(table.status, "running"),
          eq(table.claimedBy, instanceId()),
          ...(kind === "restore" ? [isNull(restores.swapStartedAt)] : []),
        ),
      )
      .returning({ id: table.id, teamId: table.teamId });
    for (const r of rows) await appendJobLog({ kind, teamId: r.teamId, id: r.id }, "info", HANDED_BACK);
    n += rows.length;
  }
  return n;
}

import "server-only";
import { and, eq, isNull } from "drizzle-orm";
import { backups, restores } from "@/db/schema";
import { db } from "../db";
import { instanceId } from "../workflows/instance";
import { appendJobLog } from "./log";
import { jobTable, type JobKind } from "./table";

export const HANDED_BACK =
  "Coffer is shutting down: this attempt stops here, and the job is queued to run again when Coffer is back.";

const NOT_AGAIN: Record<"upload" | "safety", string> = {
  upload: "Coffer shut down while the file was being uploaded; nothing of it was kept. Upload it again.",
  safety:
    "Coffer shut down while this safety backup ran; nothing of it was kept. The restore takes a new one when it runs again.",
};

/**
 * At shutdown, after the grace period: the jobs this process still runs go back to "queued" (their
 * attempts see it with their next progress update, stop and remove what they wrote), for the next
 * instance to run again. A restore already putting its database in place is left to finish or,
 * if the process ends first, to be finished by the next one. An upload (its file is gone with the
 * request) and a safety backup (its target database is the restore's, not in its row) cannot run
 * again: they fail, their leftovers recorded for the sweeper. Resolves with how many went back.
 */
export async function handBackJobsAllTeams(): Promise<number> {
  const d = await db();
  const mine = (kind: JobKind) => and(eq(jobTable(kind).status, "running"), eq(jobTable(kind).claimedBy, instanceId()));
  for (const trigger of ["upload", "safety"] as const) {
    const failed = await d
      .update(backups)
      .set({
        status: "failed",
        finishedAt: new Date(),
        error: NOT_AGAIN[trigger],
        claimedBy: null,
        dekWrapped: null,
        dekKeyId: null,
        headerKeyId: null,
        leftoversPendingAt: new Date(),
      })
      .where(and(mine("backup"), eq(backups.trigger, trigger)))
      .returning({ id: backups.id, teamId: backups.teamId });
    for (const r of failed)
      await appendJobLog({ kind: "backup", teamId: r.teamId, id: r.id }, "error", `Failed: ${NOT_AGAIN[trigger]}`);
  }
  let n = 0;
  for (const kind of ["backup", "restore"] as JobKind[]) {
    const table = jobTable(kind);
    const rows = await d
      .update(table)
      .set({ status: "queued", claimedBy: null, heartbeatAt: null })
      .where(and(mine(kind), ...(kind === "restore" ? [isNull(restores.swapStartedAt)] : [])))
      .returning({ id: table.id, teamId: table.teamId });
    for (const r of rows) await appendJobLog({ kind, teamId: r.teamId, id: r.id }, "info", HANDED_BACK);
    n += rows.length;
  }
  return n;
}

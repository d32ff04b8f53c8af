import "server-only";
import { backups } from "@/db/schema";
import { db } from "../db";
import { staleAllTeams, waitingAllTeams } from "../jobs/sweep";
import { failRun } from "./fail";
import { retryLeftoversAllTeams } from "./leftovers";

/**
 * Fails the runs a dead process left "running" (their objects, temporary uploads and work folders
 * removed), tries again where removing an ended run's leftovers failed before, and returns the
 * queued backups that waited longer than `requeueAfterMs`, whose events may have been lost, for
 * the caller to dispatch again (runs are idempotent on the id).
 */
export async function sweepStaleRunsAllTeams(now = new Date(), requeueAfterMs = 5 * 60_000) {
  const d = await db();
  const stale = await d
    .select({ id: backups.id, teamId: backups.teamId })
    .from(backups)
    .where(staleAllTeams("backup", now));
  let failed = 0;
  for (const b of stale) {
    const status = await failRun(
      b.teamId,
      b.id,
      "The run stopped making progress: the process running it ended (a restart or crash). Nothing from it was kept; run the backup again.",
      { dead: true, staleAt: now },
    );
    if (status !== "unchanged") failed++;
  }
  await retryLeftoversAllTeams(now);
  const queued = await d
    .select({ backupId: backups.id, teamId: backups.teamId, serverId: backups.serverId })
    .from(backups)
    .where(waitingAllTeams("backup", now, requeueAfterMs));
  return { failed, requeue: queued };
}

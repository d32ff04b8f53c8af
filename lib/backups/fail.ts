import "server-only";
import { eq } from "drizzle-orm";
import { backups } from "@/db/schema";
import { db } from "../db";
import { logEnded, markEnded } from "../jobs/end";
import { staleAllTeams } from "../jobs/sweep";
import { emit } from "../notifications/emit";
import { inTeam, systemTeam } from "../teams/context";
import { removeRunLeftovers } from "./leftovers";

/**
 * The end of a run that did not succeed: marks it failed (or cancelled, when someone asked) with
 * the message, and removes every object any attempt may have written and what its unfinished
 * writes left; with `dead` (its process ended without cleaning up), its work folder on the server
 * too. `staleAt` (the sweeper's): only while the run is still stale at that time, not when a retry
 * took it up again meanwhile. Idempotent; returns the final status.
 */
export async function failRun(
  teamId: string,
  backupId: string,
  message: string,
  opts: { dead?: boolean; staleAt?: Date } = {},
): Promise<"failed" | "cancelled" | "unchanged"> {
  const t = await systemTeam(teamId, "backup run");
  const status = await markEnded(
    "backup",
    t,
    backupId,
    message,
    // Recorded with the end, cleared once they are gone: a process that stops in between leaves
    // them to the sweeper, which retries only runs marked so.
    { dekWrapped: null, dekKeyId: null, headerKeyId: null, leftoversPendingAt: new Date() },
    opts.staleAt && staleAllTeams("backup", opts.staleAt),
  );
  if (!status) {
    // Ended before: removing its leftovers may have failed then. But a backup that succeeded (a
    // retried step can end here after the run stored it) or runs again keeps what it wrote.
    const [row] = await (
      await db()
    )
      .select({ status: backups.status })
      .from(backups)
      .where(inTeam(backups, t, eq(backups.id, backupId)));
    if (row?.status === "failed" || row?.status === "cancelled")
      await removeRunLeftovers(t, backupId, { workFolder: opts.dead ?? false });
    return "unchanged";
  }
  await removeRunLeftovers(t, backupId, { workFolder: opts.dead ?? false });
  await logEnded("backup", t, backupId, status, message);
  if (status === "failed") await emit(t, "backup.failed", { backupId });
  return status;
}

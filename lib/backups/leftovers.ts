import "server-only";
import { and, eq, inArray, lt, ne } from "drizzle-orm";
import { backupLocations, backups, servers } from "@/db/schema";
import { db } from "../db";
import { withDestination } from "../destinations/use";
import { failureMessage } from "../jobs/failure";
import { log } from "../log";
import { removeHeldFolders } from "../reach";
import { CLEANUP_DEADLINE_MS, withServer } from "../servers/connect";
import { inTeam, systemTeam, type TeamContext } from "../teams/context";
import { workFolderName } from "./plan";

/** How long the sweeper waits before trying again where removing a run's leftovers failed. */
export const LEFTOVERS_RETRY_MS = 10 * 60_000;

/**
 * Removes what a backup run that did not finish left behind: in every destination, the object
 * and what its unfinished writes left (temporary files, multipart uploads, staged blocks: named
 * after the run); with `workFolder`, its private folders on the server too (a process that died
 * could not remove them). Where that fails (a destination or server out of reach), the backup is
 * marked so the sweeper tries again later. Resolves with whether everything is gone.
 */
export async function removeRunLeftovers(
  t: TeamContext,
  backupId: string,
  opts: { workFolder: boolean },
): Promise<boolean> {
  const d = await db();
  const locations = await d
    .select({
      id: backupLocations.id,
      destinationId: backupLocations.destinationId,
      objectKey: backupLocations.objectKey,
    })
    .from(backupLocations)
    .where(inTeam(backupLocations, t, eq(backupLocations.backupId, backupId), ne(backupLocations.status, "deleted")));
  let clean = true;
  for (const loc of locations) {
    try {
      await withDestination(t, loc.destinationId, async (a) => {
        await a.delete(loc.objectKey);
        await a.removeLeftovers(loc.objectKey, backupId);
      });
      await d
        .update(backupLocations)
        .set({ status: "deleted", error: null })
        .where(inTeam(backupLocations, t, eq(backupLocations.id, loc.id)));
    } catch (err) {
      clean = false;
      const why = failureMessage(err, { backupId, destinationId: loc.destinationId });
      await d
        .update(backupLocations)
        .set({ status: "failed", error: `Could not remove the partial object: ${why}` })
        .where(inTeam(backupLocations, t, eq(backupLocations.id, loc.id)));
    }
  }
  if (opts.workFolder) {
    try {
      await removeWorkFolders(t, backupId);
    } catch (err) {
      clean = false;
      log.warn("could not remove a dead run's work folder", { backupId, err });
    }
  }
  await d
    .update(backups)
    .set({ leftoversPendingAt: clean ? null : new Date() })
    .where(inTeam(backups, t, eq(backups.id, backupId)));
  return clean;
}

/** Removes the private work folders a run of `backupId` left on its server. */
export async function removeWorkFolders(t: TeamContext, backupId: string) {
  const d = await db();
  const [row] = await d
    .select({ serverId: servers.id, workDir: servers.workDir })
    .from(backups)
    .innerJoin(servers, and(eq(servers.teamId, backups.teamId), eq(servers.id, backups.serverId)))
    .where(inTeam(backups, t, eq(backups.id, backupId)));
  if (!row) return;
  await withServer(t, row.serverId, (reach) => removeHeldFolders(reach, row.workDir, workFolderName(backupId)), {
    deadlineMs: CLEANUP_DEADLINE_MS,
  });
}

/**
 * Tries again, for the runs that ended and still have leftovers recorded (at most `limit`, each
 * at most every LEFTOVERS_RETRY_MS): the next time Coffer reaches their destinations and server.
 * Resolves with how many were cleared.
 */
export async function retryLeftoversAllTeams(now: Date, limit = 20): Promise<number> {
  const d = await db();
  const due = await d
    .select({ id: backups.id, teamId: backups.teamId })
    .from(backups)
    .where(
      and(
        inArray(backups.status, ["failed", "cancelled"]),
        lt(backups.leftoversPendingAt, new Date(now.getTime() - LEFTOVERS_RETRY_MS)),
      ),
    )
    .orderBy(backups.leftoversPendingAt)
    .limit(limit);
  let cleared = 0;
  for (const b of due) {
    const t = await systemTeam(b.teamId, "leftovers sweep");
    if (await removeRunLeftovers(t, b.id, { workFolder: true })) cleared++;
  }
  return cleared;
}

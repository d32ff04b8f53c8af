import "server-only";
import { count, eq } from "drizzle-orm";
import { backupLocations, backups } from "@/db/schema";
import { db } from "../db";
import { claim, claimJob, stopIfCancelRequested } from "../jobs/claim";
import { RunStopped } from "../jobs/failure";
import { log } from "../log";
import { inTeam, systemTeam, type TeamContext } from "../teams/context";
import { buildBackup, loadPlan, type TransferResult } from "./build";
import { removeWorkFolders } from "./leftovers";
import { localQuotaFor } from "./quota";
import { serverArchive } from "./server-archive";

/**
 * Starts (or restarts) a queued or running backup. Resolves with the claim that guards the run's
 * writes, or null when there is nothing to do: it finished, was cancelled, or does not exist.
 */
export function claimRun(teamId: string, backupId: string): Promise<number | null> {
  return claimJob({ kind: "backup", teamId, id: backupId });
}

/**
 * A backup run under its claim: the plan, the server's archive, written everywhere, marked stored.
 * A retry claims the backup again; one resuming after its process ended first removes the work
 * folder that process left on the server (what it left in the destinations goes as the run starts).
 */
export async function transferBackup(teamId: string, backupId: string, attempt: number): Promise<TransferResult> {
  const job = { kind: "backup" as const, teamId, id: backupId };
  const t = await systemTeam(teamId, "backup run");
  const claimed = await claim(job, attempt);
  if (!claimed) {
    // A step repeated after the run stored the backup (its answer was lost, or what came after it
    // failed): the stored backup is the step's result.
    const stored = await storedResult(t, backupId);
    if (stored) return stored;
    await stopIfCancelRequested(job);
    throw new RunStopped("The backup ended while it was interrupted; it is not run again.");
  }
  try {
    if (claimed.resumed)
      await removeWorkFolders(t, backupId).catch((err: unknown) =>
        log.warn("could not remove an interrupted run's work folder", { backupId, err }),
      );
    const plan = await loadPlan(t, backupId, claimed.attempt);
    const quota = await localQuotaFor(t, plan.backup.destinationIds);
    return await buildBackup({ ...plan, quota }, await serverArchive(t, plan.backup));
  } finally {
    claimed.release();
  }
}

/** What a backup that succeeded stored, as its run's step returned it; null for any other backup. */
async function storedResult(t: TeamContext, backupId: string): Promise<TransferResult | null> {
  const d = await db();
  const [row] = await d
    .select({ sizeBytes: backups.sizeBytes, sha256: backups.sha256, archiveBytes: backups.archiveBytes })
    .from(backups)
    .where(inTeam(backups, t, eq(backups.id, backupId), eq(backups.status, "succeeded")));
  if (!row) return null;
  const [stored] = await d
    .select({ n: count() })
    .from(backupLocations)
    .where(inTeam(backupLocations, t, eq(backupLocations.backupId, backupId), eq(backupLocations.status, "stored")));
  return { sizeBytes: row.sizeBytes!, sha256: row.sha256!, archiveBytes: row.archiveBytes!, locations: stored!.n };
}

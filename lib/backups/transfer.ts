import "server-only";
import { count, eq } from "drizzle-orm";
import { backupLocations, backups } from "@/db/schema";
import { db } from "../db";
import { letGo } from "../jobs/attempt";
import { claim, stopIfCancelRequested } from "../jobs/claim";
import { runningJob } from "../jobs/table";
import { log } from "../log";
import { inTeam, systemTeam, type TeamContext } from "../teams/context";
import { buildBackup, loadPlan, type ArchiveProducer, type BackupPlan, type TransferResult } from "./build";
import { removeWorkFolders } from "./leftovers";
import { localQuotaFor } from "./quota";
import { serverArchive } from "./server-archive";

/**
 * A backup run, under a claim of its own (each execution of the step makes one, and an execution
 * under an earlier claim stops): the plan, the server's archive, written everywhere, marked stored.
 * A claim taken from a process that ended first removes the work folder it left on the server
 * (what it left in the destinations goes as the run starts). Null when there is nothing to do: the
 * backup ended (or never existed) before this run. Claiming inside the step that does the work
 * keeps the job queued while the run waits for its server's turn.
 */
export async function transferBackup(teamId: string, backupId: string): Promise<TransferResult | null> {
  const job = { kind: "backup" as const, teamId, id: backupId };
  const t = await systemTeam(teamId, "backup run");
  const claimed = await claim(job);
  if (!claimed) {
    // A step repeated after the run stored the backup (its answer was lost, or what came after it
    // failed): the stored backup is the step's result.
    const stored = await storedResult(t, backupId);
    if (stored) return stored;
    await stopIfCancelRequested(job);
    return null;
  }
  if (claimed.resumed)
    await removeWorkFolders(t, backupId).catch((err: unknown) =>
      log.warn("could not remove an interrupted run's work folder", { backupId, err }),
    );
  let plan: BackupPlan, archive: ArchiveProducer;
  try {
    const loaded = await loadPlan(t, backupId, claimed.attempt);
    plan = { ...loaded, quota: await localQuotaFor(t, loaded.backup.destinationIds) };
    archive = await serverArchive(t, plan.backup);
  } catch (err) {
    await letGo(runningJob("backup", t, backupId, claimed.attempt)).catch(() => {});
    throw err;
  }
  return buildBackup(plan, archive);
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

import "server-only";
import { claim, claimJob, stopIfCancelRequested } from "../jobs/claim";
import { RunStopped } from "../jobs/failure";
import { log } from "../log";
import { systemTeam } from "../teams/context";
import { buildBackup, loadPlan, type TransferResult } from "./build";
import { removeWorkFolders } from "./leftovers";
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
  const claimed = await claim(job, attempt);
  if (!claimed) {
    await stopIfCancelRequested(job);
    throw new RunStopped("The backup ended while it was interrupted; it is not run again.");
  }
  const t = await systemTeam(teamId, "backup run");
  if (claimed.resumed)
    await removeWorkFolders(t, backupId).catch((err: unknown) =>
      log.warn("could not remove an interrupted run's work folder", { backupId, err }),
    );
  const plan = await loadPlan(t, backupId, claimed.attempt);
  return buildBackup(plan, await serverArchive(t, plan.backup));
}

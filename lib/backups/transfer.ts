import "server-only";
import { claimJob } from "../jobs/claim";
import { systemTeam } from "../teams/context";
import { buildBackup, loadPlan, type TransferResult } from "./build";
import { serverArchive } from "./server-archive";

/**
 * Starts (or restarts) a queued or running backup. Resolves with the claim that guards the run's
 * writes, or null when there is nothing to do: it finished, was cancelled, or does not exist.
 */
export function claimRun(teamId: string, backupId: string): Promise<number | null> {
  return claimJob({ kind: "backup", teamId, id: backupId });
}

/** A backup run under its claim: the plan, the server's archive, written everywhere, marked stored. */
export async function transferBackup(teamId: string, backupId: string, attempt: number): Promise<TransferResult> {
  const t = await systemTeam(teamId, "backup run");
  const plan = await loadPlan(t, backupId, attempt);
  return buildBackup(plan, await serverArchive(t, plan.backup));
}

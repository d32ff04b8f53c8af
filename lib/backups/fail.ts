import "server-only";
import { logEnded, markEnded } from "../jobs/end";
import { emit } from "../notifications/emit";
import { systemTeam } from "../teams/context";
import { removeRunLeftovers } from "./leftovers";

/**
 * The end of a run that did not succeed: marks it failed (or cancelled, when someone asked) with
 * the message, and removes every object any attempt may have written and what its unfinished
 * writes left; with `dead` (its process ended without cleaning up), its work folder on the server
 * too. Idempotent; returns the final status.
 */
export async function failRun(
  teamId: string,
  backupId: string,
  message: string,
  opts: { dead?: boolean } = {},
): Promise<"failed" | "cancelled" | "unchanged"> {
  const t = await systemTeam(teamId, "backup run");
  const status = await markEnded("backup", t, backupId, message, {
    dekWrapped: null,
    dekKeyId: null,
    headerKeyId: null,
  });
  await removeRunLeftovers(t, backupId, { workFolder: opts.dead ?? false });
  if (!status) return "unchanged";
  await logEnded("backup", t, backupId, status, message);
  if (status === "failed") await emit(t, "backup.failed", { backupId });
  return status;
}

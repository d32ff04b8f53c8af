import "server-only";
import { eq, ne } from "drizzle-orm";
import { backupLocations } from "@/db/schema";
import { db } from "../db";
import { withDestination } from "../destinations/use";
import { logEnded, markEnded } from "../jobs/end";
import { failureMessage } from "../jobs/failure";
import { inTeam, systemTeam } from "../teams/context";

/**
 * The end of a run that did not succeed: marks it failed (or cancelled, when someone asked) with
 * the message, and deletes every object any attempt may have written. Idempotent; returns the final status.
 */
export async function failRun(
  teamId: string,
  backupId: string,
  message: string,
): Promise<"failed" | "cancelled" | "unchanged"> {
  const t = await systemTeam(teamId, "backup run");
  const status = await markEnded("backup", t, backupId, message, {
    dekWrapped: null,
    dekKeyId: null,
    headerKeyId: null,
  });
  const d = await db();
  const locations = await d
    .select({
      id: backupLocations.id,
      destinationId: backupLocations.destinationId,
      objectKey: backupLocations.objectKey,
    })
    .from(backupLocations)
    .where(inTeam(backupLocations, t, eq(backupLocations.backupId, backupId), ne(backupLocations.status, "deleted")));
  for (const loc of locations) {
    try {
      await withDestination(t, loc.destinationId, (a) => a.delete(loc.objectKey));
      await d
        .update(backupLocations)
        .set({ status: "deleted" })
        .where(inTeam(backupLocations, t, eq(backupLocations.id, loc.id)));
    } catch (err) {
      const why = failureMessage(err, { backupId, destinationId: loc.destinationId });
      await d
        .update(backupLocations)
        .set({ status: "failed", error: `Could not remove the partial object: ${why}` })
        .where(inTeam(backupLocations, t, eq(backupLocations.id, loc.id)));
    }
  }
  if (!status) return "unchanged";
  await logEnded("backup", t, backupId, status, message);
  return status;
}

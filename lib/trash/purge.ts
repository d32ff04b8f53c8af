import "server-only";
import { and, eq, isNull, lt, ne, or, sql, type SQL } from "drizzle-orm";
import { backupLocations, backups, teams } from "@/db/schema";
import { recordAudit } from "../audit/record";
import { db } from "../db";
import { withDestination } from "../destinations/use";
import { failureMessage } from "../jobs/failure";
import { inTeam, type TeamContext } from "../teams/context";

/** A backup no download, restore or verification holds (lib/retention's holdForReading, by the app's clock like it). */
export const notBeingRead = () => or(isNull(backups.readingUntil), lt(backups.readingUntil, new Date()))!;

/**
 * Trashed backups (among `where`) whose team's grace period is over become expired, unless one is
 * being read (a download or restore that started before it went to the trash; the next run expires
 * it); their copies are deleted next by `deleteExpiredCopies`. Returns the backups that expired.
 */
export async function expireTrash(t: TeamContext, where?: SQL): Promise<{ id: string; startedAt: Date | null }[]> {
  const d = await db();
  const days = sql<number>`(select ${teams.trashDays} from ${teams} where ${teams.id} = ${backups.teamId})`;
  const rows = await d
    .update(backups)
    .set({
      status: "expired",
      expiredAt: sql`now()`,
      expiredReason: sql`concat_ws(' ', ${backups.trashedReason}, 'Deleted after ' || ${days} || ' days in the trash.')`,
    })
    .where(
      inTeam(
        backups,
        t,
        eq(backups.status, "trashed"),
        lt(backups.trashedAt, sql`now() - make_interval(days => ${days})`),
        notBeingRead(),
        where,
      ),
    )
    .returning({ id: backups.id, fileName: backups.fileName, startedAt: backups.startedAt });
  for (const row of rows)
    await recordAudit(d, t, {
      action: "backup.expired",
      target: { type: "backup", id: row.id, label: row.fileName },
      details: { after: "its time in the trash" },
    });
  return rows.map(({ id, startedAt }) => ({ id, startedAt }));
}

/**
 * Deletes every stored copy of the expired backups among `where` (joined with their backup): one
 * a destination refuses is recorded on its location and retried by the next run. Returns those
 * problems.
 */
export async function deleteExpiredCopies(t: TeamContext, where?: SQL): Promise<string[]> {
  const d = await db();
  const problems: string[] = [];
  const leftovers = await d
    .select({
      id: backupLocations.id,
      backupId: backupLocations.backupId,
      destinationId: backupLocations.destinationId,
      objectKey: backupLocations.objectKey,
    })
    .from(backupLocations)
    .innerJoin(backups, and(eq(backups.teamId, backupLocations.teamId), eq(backups.id, backupLocations.backupId)))
    .where(inTeam(backupLocations, t, eq(backups.status, "expired"), ne(backupLocations.status, "deleted"), where));
  for (const loc of leftovers) {
    try {
      await withDestination(t, loc.destinationId, (a) => a.delete(loc.objectKey));
      await d
        .update(backupLocations)
        .set({ status: "deleted", error: null })
        .where(inTeam(backupLocations, t, eq(backupLocations.id, loc.id)));
      await recordAudit(d, t, {
        action: "backup.copy_deleted",
        target: { type: "backup", id: loc.backupId },
        details: { destinationId: loc.destinationId, objectKey: loc.objectKey },
      });
    } catch (err) {
      const why = failureMessage(err, { backupId: loc.backupId, destinationId: loc.destinationId });
      await d
        .update(backupLocations)
        .set({ error: `Could not delete this copy yet (retried by the next retention run): ${why}` })
        .where(inTeam(backupLocations, t, eq(backupLocations.id, loc.id)));
      problems.push(why);
    }
  }
  return problems;
}

import "server-only";
import { desc, eq, isNotNull, ne, sql, type SQLWrapper } from "drizzle-orm";
import { backups, backupSources } from "@/db/schema";
import { db } from "../db";
import type { PreviousRun } from "../jobs/progress";
import { inTeam, type TeamContext } from "../teams/context";

/** The sorted source ids of a backup, as one SQL array (to compare two runs' sets of sources). */
const sourcesOf = (backupId: SQLWrapper | string) =>
  sql`(select array_agg(${backupSources.sourceId} order by ${backupSources.sourceId}) from ${backupSources}
        where ${backupSources.teamId} = ${backups.teamId} and ${backupSources.backupId} = ${backupId})`;

/**
 * The newest successful backup of exactly the same sources as `backupId` (before it): what it wrote
 * and how long it ran, for a running backup's estimate of the time left. Walks the team's backups
 * newest first (an index), so it stops at the first that matches.
 */
export async function previousRunOf(t: TeamContext, backupId: string): Promise<PreviousRun | null> {
  const d = await db();
  const [row] = await d
    .select({ bytes: backups.sizeBytes, startedAt: backups.startedAt, finishedAt: backups.finishedAt })
    .from(backups)
    .where(
      inTeam(
        backups,
        t,
        eq(backups.status, "succeeded"),
        ne(backups.id, backupId),
        isNotNull(backups.startedAt),
        isNotNull(backups.finishedAt),
        isNotNull(backups.sizeBytes),
        sql`${sourcesOf(backups.id)} = ${sourcesOf(backupId)}`,
      ),
    )
    .orderBy(desc(backups.createdAt), desc(backups.id))
    .limit(1);
  if (!row) return null;
  return { bytes: row.bytes!, durationMs: row.finishedAt!.getTime() - row.startedAt!.getTime() };
}

import "server-only";
import { sql } from "drizzle-orm";
import { backupDestinations, backups, backupSources } from "@/db/schema";
import type { Transaction } from "../db";

/** An aggregated id list as either driver returns it: an array, or PostgreSQL's `{a,b}` text. */
function idList(value: unknown): string[] {
  if (Array.isArray(value)) return value as string[];
  const text = String(value ?? "{}").replace(/^\{|\}$/g, "");
  return text ? text.split(",") : [];
}

/**
 * A backup's sources and destinations as id lists, aggregated from its link rows in the same
 * statement as the rest of the row (select them next to `backups` columns).
 */
export const backupSourceIds = sql<
  string[]
>`coalesce((select array_agg(${backupSources.sourceId} order by ${backupSources.sourceId}) from ${backupSources} where ${backupSources.teamId} = ${backups.teamId} and ${backupSources.backupId} = ${backups.id}), '{}')`.mapWith(
  idList,
);
export const backupDestinationIds = sql<
  string[]
>`coalesce((select array_agg(${backupDestinations.destinationId} order by ${backupDestinations.destinationId}) from ${backupDestinations} where ${backupDestinations.teamId} = ${backups.teamId} and ${backupDestinations.backupId} = ${backups.id}), '{}')`.mapWith(
  idList,
);

/** Records what a new backup backs up and where it goes (the database refuses another team's rows). */
export async function linkBackup(
  tx: Transaction,
  b: { teamId: string; backupId: string; sourceIds: string[]; destinationIds: string[] },
): Promise<void> {
  if (b.sourceIds.length)
    await tx
      .insert(backupSources)
      .values(b.sourceIds.map((sourceId) => ({ teamId: b.teamId, backupId: b.backupId, sourceId })));
  if (b.destinationIds.length)
    await tx
      .insert(backupDestinations)
      .values(b.destinationIds.map((destinationId) => ({ teamId: b.teamId, backupId: b.backupId, destinationId })));
}

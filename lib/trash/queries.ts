import "server-only";
import { and, desc, eq, sql } from "drizzle-orm";
import { backups, servers, teams } from "@/db/schema";
import { db } from "../db";
import { inTeam, type TeamContext } from "../teams/context";

export async function getTrashDays(t: TeamContext): Promise<number> {
  const d = await db();
  const [row] = await d.select({ days: teams.trashDays }).from(teams).where(eq(teams.id, t.id));
  return row!.days;
}

const deletesAt = sql<Date>`${backups.trashedAt} + make_interval(days => ${teams.trashDays})`.mapWith(
  backups.trashedAt,
);

/** A backup's place in the trash (for its page): since when, why, when its copies go; and whether an admin put it back. */
export async function trashStateOf(t: TeamContext, backupId: string) {
  const d = await db();
  const [row] = await d
    .select({
      trashedAt: backups.trashedAt,
      trashedReason: backups.trashedReason,
      pinnedAt: backups.pinnedAt,
      deletesAt,
    })
    .from(backups)
    .innerJoin(teams, eq(teams.id, backups.teamId))
    .where(inTeam(backups, t, eq(backups.id, backupId)));
  return row ?? null;
}

/** The team's trashed backups, newest removal first, with when their copies will be deleted. */
export async function listTrash(t: TeamContext) {
  const d = await db();
  return d
    .select({
      id: backups.id,
      fileName: backups.fileName,
      serverName: servers.name,
      createdAt: backups.createdAt,
      sizeBytes: backups.sizeBytes,
      trashedAt: backups.trashedAt,
      trashedBy: backups.trashedBy,
      trashedReason: backups.trashedReason,
      deletesAt,
    })
    .from(backups)
    .innerJoin(servers, and(eq(servers.teamId, backups.teamId), eq(servers.id, backups.serverId)))
    .innerJoin(teams, eq(teams.id, backups.teamId))
    .where(inTeam(backups, t, eq(backups.status, "trashed")))
    .orderBy(desc(backups.trashedAt), desc(backups.id));
}

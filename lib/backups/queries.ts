import "server-only";
import { asc, desc, eq, gte, inArray, lt, sql, type SQL } from "drizzle-orm";
import { backupLocations, backups, schedules, servers, storageDestinations } from "@/db/schema";
import { db } from "../db";
import { readJobLog } from "../jobs/log";
import { estimateOf, progressOf } from "../jobs/progress";
import { inTeam, requireRow, type TeamContext } from "../teams/context";
import { compressionRecordSchema } from "./manifest";
import { previousRunOf } from "./previous-run";

// Names by scalar subqueries, not joins: the query stays on `backups` alone, so a page is read from
// its index in order even by a planner without statistics (PGlite's), which would join and sort
// every row of the team instead. Written with aliases: drizzle leaves a column unqualified inside
// sql``, where it would name the subquery's own table.
const serverName = sql<string>`(select s.name from ${servers} s where s.team_id = ${backups}.team_id and s.id = ${backups}.server_id)`;
const scheduleName = sql<
  string | null
>`(select s.name from ${schedules} s where s.team_id = ${backups}.team_id and s.id = ${backups}.schedule_id)`;

// What pages and responses may see: never the wrapped data key.
const backupColumns = {
  id: backups.id,
  serverId: backups.serverId,
  serverName,
  scheduleId: backups.scheduleId,
  scheduleName,
  scheduledFor: backups.scheduledFor,
  trigger: backups.trigger,
  status: backups.status,
  encrypted: backups.encrypted,
  encryption: backups.encryption,
  compression: backups.compression,
  requestedBy: backups.requestedBy,
  fileName: backups.fileName,
  uploadedName: backups.uploadedName,
  archivedAt: backups.archivedAt,
  createdAt: backups.createdAt,
  startedAt: backups.startedAt,
  finishedAt: backups.finishedAt,
  heartbeatAt: backups.heartbeatAt,
  attempts: backups.attempts,
  bytesDone: backups.bytesDone,
  sizeBytes: backups.sizeBytes,
  archiveBytes: backups.archiveBytes,
  sha256: backups.sha256,
  error: backups.error,
  cancelRequestedAt: backups.cancelRequestedAt,
  cancelRequestedBy: backups.cancelRequestedBy,
  tier: backups.tier,
  expiredAt: backups.expiredAt,
  expiredReason: backups.expiredReason,
  verifiedAt: backups.verifiedAt,
  verification: backups.verification,
  verify: backups.verify,
  verifySourceId: backups.verifySourceId,
};

export interface BackupFilter {
  serverId?: string;
  scheduleId?: string;
  status?: readonly (typeof backups.$inferSelect.status)[];
  /** Created at or after `from`, before `to`. */
  from?: Date;
  to?: Date;
  /** Keyset cursor: the last row of the previous page. */
  before?: { createdAt: Date; id: string };
  limit?: number;
}

/** Newest first, with where each backup is stored. */
export async function listBackups(t: TeamContext, filter: BackupFilter = {}) {
  const d = await db();
  const limit = Math.min(filter.limit ?? 50, 200);
  const conditions: (SQL | undefined)[] = [
    filter.serverId ? eq(backups.serverId, filter.serverId) : undefined,
    filter.scheduleId ? eq(backups.scheduleId, filter.scheduleId) : undefined,
    filter.status?.length ? inArray(backups.status, [...filter.status]) : undefined,
    filter.from ? gte(backups.createdAt, filter.from) : undefined,
    filter.to ? lt(backups.createdAt, filter.to) : undefined,
    // A row comparison, which the (team, [server,] created_at desc, id desc) indexes answer directly at any depth.
    filter.before
      ? sql`(${backups.createdAt}, ${backups.id}) < (${filter.before.createdAt.toISOString()}::timestamptz, ${filter.before.id})`
      : undefined,
  ];
  const rows = await d
    .select(backupColumns)
    .from(backups)
    .where(inTeam(backups, t, ...conditions))
    .orderBy(desc(backups.createdAt), desc(backups.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const locations = page.length
    ? await locationsOf(
        t,
        page.map((r) => r.id),
      )
    : [];
  const now = new Date();
  return {
    rows: page.map((r) => ({ ...r, ...progressOf(r, now), locations: locations.filter((l) => l.backupId === r.id) })),
    next: rows.length > limit ? { createdAt: page.at(-1)!.createdAt, id: page.at(-1)!.id } : undefined,
  };
}

async function locationsOf(t: TeamContext, backupIds: string[]) {
  const d = await db();
  // Found by (team, backup) and named by subqueries, for the same reason as the backups' names.
  const destination = (column: typeof storageDestinations.name | typeof storageDestinations.kind) =>
    sql`(select d.${sql.identifier(column.name)} from ${storageDestinations} d where d.team_id = ${backupLocations}.team_id and d.id = ${backupLocations}.destination_id)`;
  const destinationName = destination(storageDestinations.name).mapWith(String);
  return d
    .select({
      id: backupLocations.id,
      backupId: backupLocations.backupId,
      destinationId: backupLocations.destinationId,
      destinationName,
      kind: destination(storageDestinations.kind).mapWith(
        (v) => v as (typeof storageDestinations.$inferSelect)["kind"],
      ),
      objectKey: backupLocations.objectKey,
      status: backupLocations.status,
      sizeBytes: backupLocations.sizeBytes,
      sha256: backupLocations.sha256,
      storageClass: backupLocations.storageClass,
      error: backupLocations.error,
      damage: backupLocations.damage,
    })
    .from(backupLocations)
    .where(inTeam(backupLocations, t, inArray(backupLocations.backupId, backupIds)))
    .orderBy(asc(destinationName));
}

/**
 * One backup with its locations, manifest (and the tool that compressed it, when it says) and run
 * log; while it runs, an estimate of the time left from the previous backup of the same sources.
 */
export async function getBackup(t: TeamContext, backupId: string) {
  const d = await db();
  const [row] = await d
    .select({ ...backupColumns, manifest: backups.manifest })
    .from(backups)
    .where(inTeam(backups, t, eq(backups.id, backupId)));
  const b = requireRow(row, "That backup");
  const [locations, logLines, previous] = await Promise.all([
    locationsOf(t, [backupId]),
    readJobLog(t, "backup", backupId),
    b.status === "running" ? previousRunOf(t, backupId) : null,
  ]);
  const compressedBy = compressionRecordSchema.safeParse(b.manifest?.compression).data;
  const progress = progressOf(b);
  return {
    ...b,
    ...progress,
    estimate: estimateOf({ ...b, ...progress }, previous),
    compressedBy,
    locations,
    log: logLines,
  };
}
export type BackupDetail = Awaited<ReturnType<typeof getBackup>>;

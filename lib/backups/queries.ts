import "server-only";
import { asc, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import { backupLocations, backups, schedules, servers, storageDestinations } from "@/db/schema";
import { db } from "../db";
import { readJobLog } from "../jobs/log";
import { progressOf } from "../jobs/progress";
import { inTeam, requireRow, type TeamContext } from "../teams/context";
import { compressionRecordSchema } from "./manifest";

// Names by scalar subqueries, not joins: the query stays on `backups` alone, so a page is read from
// its index in order even by a planner without statistics (PGlite's), which would join and sort
// every row of the team instead.
const serverName = sql<string>`(select ${servers.name} from ${servers} where ${servers.teamId} = ${backups.teamId} and ${servers.id} = ${backups.serverId})`;
const scheduleName = sql<
  string | null
>`(select ${schedules.name} from ${schedules} where ${schedules.teamId} = ${backups.teamId} and ${schedules.id} = ${backups.scheduleId})`;

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
  compression: backups.compression,
  requestedBy: backups.requestedBy,
  fileName: backups.fileName,
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
};

export interface BackupFilter {
  serverId?: string;
  scheduleId?: string;
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
    sql`(select ${column} from ${storageDestinations} where ${storageDestinations.teamId} = ${backupLocations.teamId} and ${storageDestinations.id} = ${backupLocations.destinationId})`;
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
    })
    .from(backupLocations)
    .where(inTeam(backupLocations, t, inArray(backupLocations.backupId, backupIds)))
    .orderBy(asc(destinationName));
}

/** One backup with its locations, manifest (and the tool that compressed it, when it says) and run log. */
export async function getBackup(t: TeamContext, backupId: string) {
  const d = await db();
  const [row] = await d
    .select({ ...backupColumns, manifest: backups.manifest })
    .from(backups)
    .where(inTeam(backups, t, eq(backups.id, backupId)));
  const b = requireRow(row, "That backup");
  const [locations, logLines] = await Promise.all([locationsOf(t, [backupId]), readJobLog(t, "backup", backupId)]);
  const compressedBy = compressionRecordSchema.safeParse(b.manifest?.compression).data;
  return { ...b, ...progressOf(b), compressedBy, locations, log: logLines };
}
export type BackupDetail = Awaited<ReturnType<typeof getBackup>>;

import "server-only";
import { and, asc, desc, eq, inArray, lt, or, type SQL } from "drizzle-orm";
import { backupLocations, backups, schedules, servers, storageDestinations } from "@/db/schema";
import { db } from "../db";
import { readJobLog } from "../jobs/log";
import { progressOf } from "../jobs/progress";
import { inTeam, requireRow, type TeamContext } from "../teams/context";
import { compressionRecordSchema } from "./manifest";

// What pages and responses may see: never the wrapped data key.
const backupColumns = {
  id: backups.id,
  serverId: backups.serverId,
  serverName: servers.name,
  scheduleId: backups.scheduleId,
  scheduleName: schedules.name,
  scheduledFor: backups.scheduledFor,
  trigger: backups.trigger,
  status: backups.status,
  encrypted: backups.encrypted,
  encryption: backups.encryption,
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
    filter.before
      ? or(
          lt(backups.createdAt, filter.before.createdAt),
          and(eq(backups.createdAt, filter.before.createdAt), lt(backups.id, filter.before.id)),
        )
      : undefined,
  ];
  const rows = await d
    .select(backupColumns)
    .from(backups)
    .innerJoin(servers, and(eq(servers.teamId, backups.teamId), eq(servers.id, backups.serverId)))
    .leftJoin(schedules, and(eq(schedules.teamId, backups.teamId), eq(schedules.id, backups.scheduleId)))
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
  return d
    .select({
      id: backupLocations.id,
      backupId: backupLocations.backupId,
      destinationId: backupLocations.destinationId,
      destinationName: storageDestinations.name,
      kind: storageDestinations.kind,
      objectKey: backupLocations.objectKey,
      status: backupLocations.status,
      sizeBytes: backupLocations.sizeBytes,
      sha256: backupLocations.sha256,
      storageClass: backupLocations.storageClass,
      error: backupLocations.error,
    })
    .from(backupLocations)
    .innerJoin(
      storageDestinations,
      and(
        eq(storageDestinations.teamId, backupLocations.teamId),
        eq(storageDestinations.id, backupLocations.destinationId),
      ),
    )
    .where(inTeam(backupLocations, t, inArray(backupLocations.backupId, backupIds)))
    .orderBy(asc(storageDestinations.name));
}

/** One backup with its locations, manifest (and the tool that compressed it, when it says) and run log. */
export async function getBackup(t: TeamContext, backupId: string) {
  const d = await db();
  const [row] = await d
    .select({ ...backupColumns, manifest: backups.manifest })
    .from(backups)
    .innerJoin(servers, and(eq(servers.teamId, backups.teamId), eq(servers.id, backups.serverId)))
    .leftJoin(schedules, and(eq(schedules.teamId, backups.teamId), eq(schedules.id, backups.scheduleId)))
    .where(inTeam(backups, t, eq(backups.id, backupId)));
  const b = requireRow(row, "That backup");
  const [locations, logLines] = await Promise.all([locationsOf(t, [backupId]), readJobLog(t, "backup", backupId)]);
  const compressedBy = compressionRecordSchema.safeParse(b.manifest?.compression).data;
  return { ...b, ...progressOf(b), compressedBy, locations, log: logLines };
}
export type BackupDetail = Awaited<ReturnType<typeof getBackup>>;

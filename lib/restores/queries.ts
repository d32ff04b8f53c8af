import "server-only";
import { and, desc, eq, inArray } from "drizzle-orm";
import { restores, servers } from "@/db/schema";
import { db } from "../db";
import { readJobLog } from "../jobs/log";
import { progressOf } from "../jobs/progress";
import { inTeam, requireRow, type TeamContext } from "../teams/context";

const restoreColumns = {
  id: restores.id,
  backupId: restores.backupId,
  kind: restores.kind,
  status: restores.status,
  serverId: restores.serverId,
  serverName: servers.name,
  connectionSourceId: restores.connectionSourceId,
  members: restores.members,
  targetDatabase: restores.targetDatabase,
  targetPath: restores.targetPath,
  mode: restores.mode,
  safetyBackupId: restores.safetyBackupId,
  requestedBy: restores.requestedBy,
  createdAt: restores.createdAt,
  startedAt: restores.startedAt,
  finishedAt: restores.finishedAt,
  attempts: restores.attempts,
  bytesDone: restores.bytesDone,
  totalBytes: restores.totalBytes,
  result: restores.result,
  restored: restores.restored,
  error: restores.error,
  scratchDatabase: restores.scratchDatabase,
  scratchDroppedAt: restores.scratchDroppedAt,
  cancelRequestedAt: restores.cancelRequestedAt,
  swapStartedAt: restores.swapStartedAt,
};

/** A backup's restores and verifications, newest first. */
export async function listRestores(t: TeamContext, backupId: string) {
  const d = await db();
  const rows = await d
    .select(restoreColumns)
    .from(restores)
    .innerJoin(servers, and(eq(servers.teamId, restores.teamId), eq(servers.id, restores.serverId)))
    .where(inTeam(restores, t, eq(restores.backupId, backupId)))
    .orderBy(desc(restores.createdAt), desc(restores.id))
    .limit(100);
  const now = new Date();
  return rows.map((r) => ({ ...r, ...progressOf(r, now) }));
}
export type RestoreView = Awaited<ReturnType<typeof listRestores>>[number];

/** The status of each of `backupIds`' latest verification run, for the lists' verification state. */
export async function latestVerificationRuns(t: TeamContext, backupIds: string[]): Promise<Map<string, string>> {
  if (!backupIds.length) return new Map();
  const d = await db();
  const rows = await d
    .selectDistinctOn([restores.backupId], { backupId: restores.backupId, status: restores.status })
    .from(restores)
    .where(inTeam(restores, t, inArray(restores.backupId, backupIds), eq(restores.kind, "verify")))
    .orderBy(restores.backupId, desc(restores.createdAt), desc(restores.id));
  return new Map(rows.map((r) => [r.backupId, r.status]));
}

/** One restore or verification with its log. */
export async function getRestore(t: TeamContext, restoreId: string) {
  const d = await db();
  const [row] = await d
    .select(restoreColumns)
    .from(restores)
    .innerJoin(servers, and(eq(servers.teamId, restores.teamId), eq(servers.id, restores.serverId)))
    .where(inTeam(restores, t, eq(restores.id, restoreId)));
  const r = requireRow(row, "That restore");
  const log = await readJobLog(t, "restore", restoreId);
  return { ...r, ...progressOf(r), log };
}

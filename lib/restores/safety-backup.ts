import "server-only";
import { eq } from "drizzle-orm";
import { backupDestinations, backups, restores, servers } from "@/db/schema";
import { storeNewBackup } from "../backups/build";
import { archiveOnServer } from "../backups/server-archive";
import { db } from "../db";
import { AppError, asAppError, notFound } from "../errors";
import type { Reach } from "../reach";
import type { PgConnection } from "../servers/postgres";
import { inTeam } from "../teams/context";
import type { RestoreCtx } from "./job";

/**
 * Backs up the database about to be replaced, as a backup of the target server (encrypted, to the
 * restored backup's destinations that still exist), over the restore's own connection. Done once
 * per restore: a retry reuses it.
 */
export async function safetyBackup(
  ctx: RestoreCtx,
  reach: Reach,
  conn: PgConnection,
  database: string,
): Promise<string> {
  const { t, job, backup, say, signal } = ctx;
  const d = await db();
  if (job.safetyBackupId) {
    const [done] = await d
      .select({ status: backups.status })
      .from(backups)
      .where(inTeam(backups, t, eq(backups.id, job.safetyBackupId)));
    if (done?.status === "succeeded") return job.safetyBackupId;
  }
  const dests = await d
    .select({ id: backupDestinations.destinationId })
    .from(backupDestinations)
    .where(inTeam(backupDestinations, t, eq(backupDestinations.backupId, backup.id)));
  if (!dests.length)
    throw new AppError(
      "VALIDATION",
      "The backup's destinations were deleted, so there is nowhere to keep the safety backup of the database being replaced. Restore into a new database instead.",
    );
  const [server] = await d
    .select({ id: servers.id, name: servers.name, kind: servers.kind, workDir: servers.workDir })
    .from(servers)
    .where(inTeam(servers, t, eq(servers.id, job.serverId)));
  if (!server) throw notFound("The target server");
  const source = { kind: "postgres" as const, id: job.connectionSourceId!, name: `${database} before restore` };
  try {
    const { id } = await storeNewBackup(
      t,
      {
        serverId: job.serverId,
        sourceIds: [job.connectionSourceId!],
        destinationIds: dests.map((x) => x.id),
        encrypted: true,
        trigger: "safety",
      },
      (backupId) => {
        say(`Backing up ${database} before replacing it (safety backup ${backupId})…`);
        return archiveOnServer(t, server, { backupId, reach, signal, sources: [{ ...source, ...conn, database }] });
      },
      async (tx, backupId) => {
        await tx
          .update(restores)
          .set({ safetyBackupId: backupId })
          .where(inTeam(restores, t, eq(restores.id, job.id)));
      },
    );
    say(`Safety backup ${id} stored.`);
    return id;
  } catch (err) {
    const app = asAppError(err);
    throw new AppError(
      app?.code ?? "UPSTREAM",
      `The safety backup of ${database} failed, so nothing was replaced: ${app?.message ?? "unexpected error"}`,
    );
  }
}

import "server-only";
import { and, eq, isNull } from "drizzle-orm";
import { backups, restores, schedules, servers, sources } from "@/db/schema";
import { recordAudit } from "../audit/record";
import { succeededBackup, type BackupRow } from "../backups/open-archive";
import { globalsOf, parseManifest, type Manifest } from "../backups/manifest";
import { db } from "../db";
import { AppError, notFound } from "../errors";
import { requestCancel } from "../jobs/cancel";
import { assertOutsideCofferData, restoreFolder } from "../servers/coffer-data";
import { isDatabaseKind } from "../servers/schemas";
import { assertRole, inTeam, systemTeam, type TeamContext } from "../teams/context";
import type { RestoreDatabaseInput, RestoreDirectoryInput, VerifyBackupInput } from "./schemas";

/** The manifest a backup recorded (uploads of other tools' archives have none). */
export function manifestOf(b: Pick<BackupRow, "manifest">): Manifest | null {
  return b.manifest ? parseManifest(b.manifest) : null;
}

/** The team's server a job runs on; another team's is NOT_FOUND, exactly like one that does not exist. */
async function teamServer(t: TeamContext, serverId: string) {
  const d = await db();
  const [server] = await d
    .select({ id: servers.id, kind: servers.kind })
    .from(servers)
    .where(inTeam(servers, t, eq(servers.id, serverId)));
  if (!server) throw notFound("That server");
  return server;
}

/** A database source of the team (optionally on `serverId`): its connection reaches a PostgreSQL. */
async function databaseConnection(t: TeamContext, sourceId: string, serverId?: string) {
  const d = await db();
  const [s] = await d
    .select({ id: sources.id, serverId: sources.serverId, kind: sources.kind })
    .from(sources)
    .where(inTeam(sources, t, eq(sources.id, sourceId)));
  if (!s || (serverId && s.serverId !== serverId)) throw notFound("That database connection");
  if (!isDatabaseKind(s.kind))
    throw new AppError("VALIDATION", "Choose a PostgreSQL source: its connection is used to reach the database.", {
      connectionSourceId: ["Choose a PostgreSQL source."],
    });
  return s;
}

/**
 * Queues a restore of one dump of a backup into a database on one of the team's servers: a new
 * database (the default) or, after the name is typed again, replacing an existing one.
 */
export async function requestDatabaseRestore(t: TeamContext, input: RestoreDatabaseInput): Promise<{ id: string }> {
  assertRole(t, "member");
  const b = await succeededBackup(t, input.backupId);
  await teamServer(t, input.serverId);
  await databaseConnection(t, input.connectionSourceId, input.serverId);
  const manifest = manifestOf(b);
  if (manifest && !manifest.postgres.some((p) => p.path === input.member)) {
    throw new AppError("VALIDATION", `This backup holds no dump ${input.member}.`, {
      member: ["Choose one of the backup's databases."],
    });
  }
  if (input.withGlobals && !(manifest && globalsOf(manifest)))
    throw new AppError(
      "VALIDATION",
      "This backup holds no roles and tablespaces (only backups of a whole PostgreSQL do): restore without creating them.",
      { withGlobals: ["This backup has no roles to create."] },
    );
  if (input.mode === "replace" && input.confirm?.trim() !== input.targetDatabase) {
    throw new AppError(
      "VALIDATION",
      `Type the database name ${input.targetDatabase} to confirm that it will be replaced.`,
      { confirm: ["Type the database name exactly."] },
    );
  }
  return insertRestore(t, b, {
    kind: "database",
    serverId: input.serverId,
    connectionSourceId: input.connectionSourceId,
    members: [input.member],
    targetDatabase: input.targetDatabase,
    mode: input.mode,
    withGlobals: input.withGlobals === true,
  });
}

/** Queues a restore of folders of a backup to a path on one of the team's servers. */
export async function requestDirectoryRestore(t: TeamContext, input: RestoreDirectoryInput): Promise<{ id: string }> {
  assertRole(t, "member");
  const b = await succeededBackup(t, input.backupId);
  const server = await teamServer(t, input.serverId);
  const targetPath = input.targetPath.replace(/(.)\/+$/, "$1");
  await assertOutsideCofferData(server.kind, [targetPath], restoreFolder);
  const manifest = manifestOf(b);
  const members = [...new Set(input.members.map((m) => m.replace(/\/+$/, "")))];
  const missing = manifest
    ? members.filter((m) => !manifest.entries.some((e) => e.path === m || e.path.startsWith(`${m}/`)))
    : [];
  if (missing.length)
    throw new AppError("VALIDATION", `This backup holds nothing under ${missing.join(", ")}.`, {
      members: ["Choose folders of the backup."],
    });
  return insertRestore(t, b, {
    kind: "directory",
    serverId: input.serverId,
    members,
    targetPath,
    mode: input.mode,
  });
}

/** Queues a verification: every dump restored into a scratch database and counted, every file checked. */
export async function requestVerification(
  t: TeamContext,
  input: VerifyBackupInput,
): Promise<{ id: string; serverId: string }> {
  assertRole(t, "member");
  const b = await succeededBackup(t, input.backupId);
  const serverId = input.connectionSourceId
    ? (await databaseConnection(t, input.connectionSourceId)).serverId
    : b.serverId;
  return {
    ...(await insertRestore(t, b, { kind: "verify", serverId, connectionSourceId: input.connectionSourceId ?? null })),
    serverId,
  };
}

/**
 * After a backup succeeded: the verification it asks for. A schedule's slot follows its schedule
 * (on by default, on the schedule's verification connection); Back up now what it was asked.
 * Null when none is asked for. Asked once: called again, it returns the same verification.
 */
export async function verificationAfterBackup(
  teamId: string,
  backupId: string,
): Promise<{ id: string; serverId: string } | null> {
  const t = await systemTeam(teamId, "verification after backup");
  const d = await db();
  const [row] = await d
    .select({
      trigger: backups.trigger,
      verify: backups.verify,
      verifySourceId: backups.verifySourceId,
      scheduleVerify: schedules.verify,
      scheduleVerifySourceId: schedules.verifySourceId,
    })
    .from(backups)
    .leftJoin(schedules, and(eq(schedules.teamId, backups.teamId), eq(schedules.id, backups.scheduleId)))
    .where(inTeam(backups, t, eq(backups.id, backupId), eq(backups.status, "succeeded")));
  if (!row) return null;
  // A repeated step (its answer lost) finds the verification it asked for the first time.
  const [asked] = await d
    .select({ id: restores.id, serverId: restores.serverId })
    .from(restores)
    .where(
      inTeam(
        restores,
        t,
        eq(restores.backupId, backupId),
        eq(restores.kind, "verify"),
        eq(restores.requestedBy, t.actor.label),
      ),
    );
  if (asked) return asked;
  const slot = row.trigger === "schedule";
  if (!(slot ? row.scheduleVerify : row.verify)) return null;
  const connection = slot ? row.scheduleVerifySourceId : row.verifySourceId;
  return requestVerification(t, { backupId, connectionSourceId: connection ?? undefined });
}

type NewRestore = Pick<
  typeof restores.$inferInsert,
  "kind" | "serverId" | "connectionSourceId" | "members" | "targetDatabase" | "targetPath" | "mode" | "withGlobals"
>;

async function insertRestore(t: TeamContext, b: BackupRow, r: NewRestore): Promise<{ id: string }> {
  const d = await db();
  return d.transaction(async (tx) => {
    const [row] = await tx
      .insert(restores)
      .values({
        ...r,
        teamId: t.id,
        backupId: b.id,
        requestedBy: t.actor.label,
        totalBytes: b.archiveBytes ?? b.sizeBytes,
      })
      .returning({ id: restores.id });
    const action = r.kind === "verify" ? "backup.verification_requested" : "backup.restore_requested";
    const details =
      r.kind === "database"
        ? { into: r.targetDatabase, mode: r.mode, serverId: r.serverId, withGlobals: r.withGlobals }
        : r.kind === "directory"
          ? { into: r.targetPath, mode: r.mode, serverId: r.serverId }
          : { serverId: r.serverId };
    await recordAudit(tx, t, {
      action,
      target: { type: "backup", id: b.id, label: b.fileName },
      details: { restoreId: row!.id, ...details },
    });
    return { id: row!.id };
  });
}

/** Asks a queued or running restore or verification to stop (a running one stops within about a second). */
export async function cancelRestore(t: TeamContext, restoreId: string): Promise<{ id: string }> {
  assertRole(t, "member");
  const d = await db();
  // A job putting its restored database in place is past stopping.
  if ((await requestCancel(d, "restore", t, restoreId, isNull(restores.swapStartedAt))) !== "unchanged") {
    await recordAudit(d, t, { action: "backup.restore_cancel_requested", target: { type: "restore", id: restoreId } });
    return { id: restoreId };
  }
  const [exists] = await d
    .select({ status: restores.status, swapStartedAt: restores.swapStartedAt })
    .from(restores)
    .where(inTeam(restores, t, eq(restores.id, restoreId)));
  if (!exists) throw notFound("That restore");
  if (exists.status === "running" && exists.swapStartedAt)
    throw new AppError("CONFLICT", "The restored database is being put in place; that is no longer stopped halfway.");
  if (exists.status !== "running")
    throw new AppError(
      "CONFLICT",
      `This has already ${exists.status === "succeeded" ? "finished" : exists.status}; there is nothing to cancel.`,
    );
  return { id: restoreId };
}

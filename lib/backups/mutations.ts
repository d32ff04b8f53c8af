import "server-only";
import { eq, inArray, isNull } from "drizzle-orm";
import { backups, servers, sources, storageDestinations } from "@/db/schema";
import { newId } from "@/db/columns";
import { recordAudit } from "../audit/record";
import { db, type Transaction } from "../db";
import { AppError, notFound } from "../errors";
import { requestCancel } from "../jobs/cancel";
import { assertVerificationConnection } from "../servers/queries";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import type { CompressionSetting } from "./compression";
import { linkBackup } from "./links";
import type { EncryptionFormat } from "../openpgp/encryption";
import { teamRecipientKeys } from "../openpgp/team-keys";
import { assertLocalQuota } from "./quota";
import type { RequestBackupInput } from "./schemas";

/** `<server>-<yyyymmdd-hhmmss>.tar.gz` (UTC), the name a download is saved under. */
export function backupFileName(serverName: string, at: Date): string {
  const slug =
    serverName
      .normalize("NFKD")
      .replace(/[^\w.-]+/g, "-")
      .replace(/^[-.]+|-+$/g, "")
      .slice(0, 60) || "server";
  const stamp = at.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${slug}-${stamp}.tar.gz`;
}

export interface NewBackup {
  serverId: string;
  sourceIds: string[];
  destinationIds: string[];
  encrypted: boolean;
  /** Absent: Coffer's format. */
  encryption?: EncryptionFormat;
  /** Absent (uploads, safety backups): fast. */
  compression?: CompressionSetting;
  /** A schedule's slots are inserted together by lib/schedules/due. */
  trigger: "manual" | "api" | "upload" | "safety";
  /** Absent: not verified after the run. */
  verify?: boolean;
  verifySourceId?: string;
  /** An upload: the name of the file the user sent. */
  uploadedName?: string;
}

/**
 * Inserts a queued backup after checking that the server, its sources and the destinations are
 * this team's.
 */
export async function insertBackup(tx: Transaction, t: TeamContext, b: NewBackup): Promise<{ id: string }> {
  const [server] = await tx
    .select({ name: servers.name })
    .from(servers)
    .where(inTeam(servers, t, eq(servers.id, b.serverId)));
  if (!server) throw notFound("That server");
  const sourceIds = [...new Set(b.sourceIds)];
  const destinationIds = [...new Set(b.destinationIds)];
  if (b.trigger !== "upload") {
    if (!sourceIds.length)
      throw new AppError("VALIDATION", "Choose at least one source to back up, or add one to the server first.", {
        sourceIds: ["Choose at least one source."],
      });
    const found = await tx
      .select({ id: sources.id })
      .from(sources)
      .where(inTeam(sources, t, eq(sources.serverId, b.serverId), inArray(sources.id, sourceIds)));
    if (found.length !== sourceIds.length)
      throw new AppError("VALIDATION", "Choose sources of this server.", {
        sourceIds: ["Every source must belong to the server."],
      });
  }
  if (!destinationIds.length)
    throw new AppError("VALIDATION", "Choose at least one storage destination, or add one under Storage first.", {
      destinationIds: ["Choose at least one destination."],
    });
  const dests = await tx
    .select({ id: storageDestinations.id })
    .from(storageDestinations)
    .where(inTeam(storageDestinations, t, inArray(storageDestinations.id, destinationIds)));
  if (dests.length !== destinationIds.length) throw notFound("That destination");
  if (b.verifySourceId) await assertVerificationConnection(tx, t, b.verifySourceId);
  const id = newId("bkp");
  const inserted = await tx
    .insert(backups)
    .values({
      id,
      teamId: t.id,
      serverId: b.serverId,
      trigger: b.trigger,
      encrypted: b.encrypted,
      verify: b.verify ?? false,
      verifySourceId: b.verify ? b.verifySourceId : undefined,
      encryption: b.encryption ?? "coffer",
      compression: b.compression,
      requestedBy: t.actor.label,
      fileName: backupFileName(server.name, new Date()),
      uploadedName: b.uploadedName,
    })
    .returning({ id: backups.id });
  await linkBackup(tx, { teamId: t.id, backupId: id, sourceIds, destinationIds });
  return inserted[0]!;
}

/** "Back up now" (and the API): a queued backup the caller then dispatches to the workflow. */
export async function requestBackup(t: TeamContext, input: RequestBackupInput, trigger: "manual" | "api" = "manual") {
  assertRole(t, "member");
  await assertLocalQuota(t, input.destinationIds);
  if (input.encrypted && input.encryption === "openpgp") await teamRecipientKeys(t); // refuses when the team has none
  const d = await db();
  return d.transaction(async (tx) => {
    const sourceIds = input.sourceIds?.length
      ? input.sourceIds
      : (
          await tx
            .select({ id: sources.id })
            .from(sources)
            .where(inTeam(sources, t, eq(sources.serverId, input.serverId)))
        ).map((s) => s.id);
    const created = await insertBackup(tx, t, { ...input, sourceIds, trigger });
    await recordAudit(tx, t, {
      action: "backup.requested",
      target: { type: "backup", id: created.id },
      details: {
        serverId: input.serverId,
        encrypted: input.encrypted,
        encryption: input.encryption ?? "coffer",
        compression: input.compression,
        destinations: input.destinationIds.length,
      },
    });
    return created;
  });
}

/**
 * Asks a queued or running backup to stop. A queued one is cancelled at once; a running one sees
 * the request within about a second (the run polls it with its progress) and stops.
 */
export async function cancelBackup(t: TeamContext, backupId: string) {
  assertRole(t, "member");
  const d = await db();
  return d.transaction(async (tx) => {
    if ((await requestCancel(tx, "backup", t, backupId)) === "unchanged") {
      const [exists] = await tx
        .select({ status: backups.status })
        .from(backups)
        .where(inTeam(backups, t, eq(backups.id, backupId)));
      if (!exists) throw notFound("That backup");
      if (exists.status !== "running")
        throw new AppError(
          "CONFLICT",
          `This backup has already ${exists.status === "succeeded" ? "finished" : exists.status}; there is nothing to cancel.`,
        );
      return { id: backupId };
    }
    await recordAudit(tx, t, { action: "backup.cancel_requested", target: { type: "backup", id: backupId } });
    return { id: backupId };
  });
}

/**
 * Removes the row of an upload that failed (it stored nothing): the user's way to clear it from the
 * list. One statement, audited; refused for anything else, or while what it left in storage is
 * still being removed (the sweeper needs the row for that).
 */
export async function removeFailedUpload(t: TeamContext, backupId: string): Promise<{ id: string }> {
  assertRole(t, "member");
  const d = await db();
  return d.transaction(async (tx) => {
    const [removed] = await tx
      .delete(backups)
      .where(
        inTeam(
          backups,
          t,
          eq(backups.id, backupId),
          eq(backups.trigger, "upload"),
          eq(backups.status, "failed"),
          isNull(backups.leftoversPendingAt),
        ),
      )
      .returning({ id: backups.id, uploadedName: backups.uploadedName, fileName: backups.fileName });
    if (!removed) {
      const [b] = await tx
        .select({ trigger: backups.trigger, status: backups.status })
        .from(backups)
        .where(inTeam(backups, t, eq(backups.id, backupId)));
      if (!b) throw notFound("That backup");
      throw new AppError(
        "CONFLICT",
        b.trigger === "upload" && b.status === "failed"
          ? "Coffer is still removing what this upload left in storage. Try again in a few minutes."
          : "Only a failed upload can be removed this way. Delete a backup from its page (admins), which moves it to the trash.",
      );
    }
    await recordAudit(tx, t, {
      action: "backup.failed_upload_removed",
      target: { type: "backup", id: removed.id, label: removed.uploadedName ?? removed.fileName },
    });
    return { id: removed.id };
  });
}

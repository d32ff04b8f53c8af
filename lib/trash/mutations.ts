import "server-only";
import { eq, sql } from "drizzle-orm";
import { backups, teams } from "@/db/schema";
import { recordAudit } from "../audit/record";
import { keyring } from "../crypto/master-keys";
import { db } from "../db";
import { AppError, notFound } from "../errors";
import { formatDateTime } from "../format";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import { deleteExpiredCopies, notBeingRead } from "./purge";

/** Why a backup is not in the state an action needs: NOT_FOUND, or CONFLICT saying what it is. */
async function refuse(t: TeamContext, backupId: string, needed: string): Promise<never> {
  const d = await db();
  const [row] = await d
    .select({ status: backups.status })
    .from(backups)
    .where(inTeam(backups, t, eq(backups.id, backupId)));
  if (!row) throw notFound("That backup");
  throw new AppError("CONFLICT", `This backup is ${row.status}; ${needed}.`);
}

/** Deleting a backup (admins): it goes to the trash, its copies kept for the team's grace period. */
export async function trashBackup(t: TeamContext, backupId: string): Promise<{ id: string }> {
  assertRole(t, "admin");
  const d = await db();
  const row = await d.transaction(async (tx) => {
    const [r] = await tx
      .update(backups)
      .set({
        status: "trashed",
        trashedAt: sql`now()`,
        trashedBy: t.actor.label,
        trashedReason: `Deleted by ${t.actor.label}.`,
      })
      .where(inTeam(backups, t, eq(backups.id, backupId), eq(backups.status, "succeeded")))
      .returning({ id: backups.id, fileName: backups.fileName });
    if (r)
      await recordAudit(tx, t, { action: "backup.trashed", target: { type: "backup", id: r.id, label: r.fileName } });
    return r;
  });
  return row ?? refuse(t, backupId, "only a backup that succeeded can be deleted");
}

/** Puts a trashed backup back (admins). Retention leaves it alone from then on: it was chosen by hand. */
export async function restoreFromTrash(t: TeamContext, backupId: string): Promise<{ id: string }> {
  assertRole(t, "admin");
  const d = await db();
  const row = await d.transaction(async (tx) => {
    // Start-up requires the keys of every backup not in the trash: one put back under a key since
    // removed could not be read, and the next start would refuse to serve.
    const [keys] = await tx
      .select({ header: backups.headerKeyId, dek: backups.dekKeyId })
      .from(backups)
      .where(inTeam(backups, t, eq(backups.id, backupId), eq(backups.status, "trashed")))
      .for("update");
    const gone = [...new Set([keys?.header, keys?.dek])].filter((k) => k && !keyring().byId.has(k));
    if (gone.length)
      throw new AppError(
        "CONFLICT",
        `This backup was sealed under master key ${gone.join(" and ")}, which MASTER_KEYS no longer holds, so it could not be read. Ask whoever runs this Coffer to add that key back (after the active one), then put it back.`,
      );
    const [r] = await tx
      .update(backups)
      .set({ status: "succeeded", trashedAt: null, trashedBy: null, trashedReason: null, pinnedAt: sql`now()` })
      .where(inTeam(backups, t, eq(backups.id, backupId), eq(backups.status, "trashed")))
      .returning({ id: backups.id, fileName: backups.fileName });
    if (r)
      await recordAudit(tx, t, {
        action: "backup.restored_from_trash",
        target: { type: "backup", id: r.id, label: r.fileName },
      });
    return r;
  });
  return row ?? refuse(t, backupId, "only a backup in the trash can be put back");
}

/** Deletes a trashed backup's copies now (admins) instead of at the end of the grace period. */
export async function deleteFromTrash(t: TeamContext, backupId: string): Promise<{ id: string; problems: string[] }> {
  assertRole(t, "admin");
  const d = await db();
  const row = await d.transaction(async (tx) => {
    const [r] = await tx
      .update(backups)
      .set({
        status: "expired",
        expiredAt: sql`now()`,
        expiredReason: sql`concat_ws(' ', ${backups.trashedReason}, ${`Deleted from the trash by ${t.actor.label}.`}::text)`,
      })
      .where(inTeam(backups, t, eq(backups.id, backupId), eq(backups.status, "trashed"), notBeingRead()))
      .returning({ id: backups.id, fileName: backups.fileName });
    if (r)
      await recordAudit(tx, t, { action: "backup.deleted", target: { type: "backup", id: r.id, label: r.fileName } });
    return r;
  });
  if (!row) {
    const [read] = await d
      .select({ until: backups.readingUntil })
      .from(backups)
      .where(inTeam(backups, t, eq(backups.id, backupId), eq(backups.status, "trashed")));
    if (read?.until && read.until > new Date())
      throw new AppError(
        "CONFLICT",
        `This backup is being read (a download or restore that started before it went to the trash): it is held until ${formatDateTime(read.until, "UTC")} while that goes on. Delete it after that, or leave it: it is deleted at the end of the grace period.`,
      );
    return refuse(t, backupId, "only a backup in the trash can be deleted now");
  }
  return { id: row.id, problems: await deleteExpiredCopies(t, eq(backups.id, row.id)) };
}

/** How many days removed backups stay in the trash (admins). */
export async function setTrashDays(t: TeamContext, days: number): Promise<{ days: number }> {
  assertRole(t, "admin");
  const d = await db();
  await d.transaction(async (tx) => {
    await tx.update(teams).set({ trashDays: days }).where(eq(teams.id, t.id));
    await recordAudit(tx, t, {
      action: "team.trash_days_changed",
      target: { type: "team", id: t.id, label: t.name },
      details: { days },
    });
  });
  return { days };
}

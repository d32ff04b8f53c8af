import "server-only";
import { and, eq, inArray, sql, sum } from "drizzle-orm";
import { backupLocations, backups, storageDestinations } from "@/db/schema";
import { db, type Database, type Transaction } from "../db";
import { env } from "../env";
import { AppError } from "../errors";
import { formatBytes } from "../format";
import { inTeam, type TeamContext } from "../teams/context";

/**
 * "This host's disk" destinations store on Coffer's own disk, which it shares with its database:
 * each team may fill LOCAL_STORAGE_QUOTA of it, counted from its stored copies there and the room
 * its running uploads hold (`backups.reserved_bytes`).
 */
export interface LocalQuota {
  /** Bytes the team's stored copies take there now, plus what its running uploads hold. */
  used: number;
  limit: number;
}

/** An upload's share of the quota: it may send at most `reserved` bytes. */
export interface LocalReservation extends LocalQuota {
  reserved: number;
}

async function anyLocal(x: Database | Transaction, t: TeamContext, destinationIds: string[]): Promise<boolean> {
  const local = await x
    .select({ id: storageDestinations.id })
    .from(storageDestinations)
    .where(
      inTeam(
        storageDestinations,
        t,
        inArray(storageDestinations.id, destinationIds),
        eq(storageDestinations.kind, "local"),
      ),
    );
  return local.length > 0;
}

async function usedOnHost(x: Database | Transaction, t: TeamContext): Promise<number> {
  const [stored] = await x
    .select({ bytes: sum(backupLocations.sizeBytes).mapWith(Number) })
    .from(backupLocations)
    .innerJoin(
      storageDestinations,
      and(
        eq(storageDestinations.teamId, backupLocations.teamId),
        eq(storageDestinations.id, backupLocations.destinationId),
      ),
    )
    .where(inTeam(backupLocations, t, eq(storageDestinations.kind, "local"), eq(backupLocations.status, "stored")));
  const [held] = await x
    .select({ bytes: sum(backups.reservedBytes).mapWith(Number) })
    .from(backups)
    .where(inTeam(backups, t, eq(backups.status, "running")));
  return (stored?.bytes ?? 0) + (held?.bytes ?? 0);
}

/** The team's quota on this host's disk, or null when none of `destinationIds` is on it. */
export async function localQuotaFor(t: TeamContext, destinationIds: string[]): Promise<LocalQuota | null> {
  const d = await db();
  if (!(await anyLocal(d, t, destinationIds))) return null;
  return { used: await usedOnHost(d, t), limit: env().LOCAL_STORAGE_QUOTA };
}

/**
 * Reserves room for the upload `backupId` (a running backup inserted in `tx`) on this host's disk:
 * `declared` bytes when the request says its size, else all the team has left up to
 * UPLOAD_MAX_SIZE. One team's reservations are made one at a time (an advisory lock held to the
 * end of `tx`), so two uploads at once cannot both count the same free space. Null when no
 * destination is on this host or there is no quota.
 */
export async function reserveLocalRoom(
  tx: Transaction,
  t: TeamContext,
  backupId: string,
  destinationIds: string[],
  declared?: number,
): Promise<LocalReservation | null> {
  const limit = env().LOCAL_STORAGE_QUOTA;
  if (limit === Infinity || !(await anyLocal(tx, t, destinationIds))) return null;
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`coffer.local-quota:${t.id}`}))`);
  const q = { used: await usedOnHost(tx, t), limit };
  const reserved = declared ?? Math.min(env().UPLOAD_MAX_SIZE, limit - q.used);
  if (q.used >= limit || q.used + reserved > limit) throw overQuota(q);
  await tx
    .update(backups)
    .set({ reservedBytes: reserved })
    .where(inTeam(backups, t, eq(backups.id, backupId)));
  return { ...q, reserved };
}

/** `adding`: what the `what` (an upload, or a backup of a server) had written when it was stopped. */
export function overQuota(q: LocalQuota, adding = 0, what: "upload" | "backup" = "upload"): AppError {
  return new AppError(
    "TOO_LARGE",
    `This team's backups on this host's disk would take more than its quota of ${formatBytes(q.limit)} (${formatBytes(q.used)} stored or being uploaded${adding ? `, and this ${what} had reached ${formatBytes(adding)}` : ""}). Delete older backups stored there (and empty them from the trash), wait for other uploads to finish, or choose another destination${what === "backup" ? "; then run it again" : ""}.`,
  );
}

/** Refuses to start writing to this host's disk once the team's quota there is used up. */
export async function assertLocalQuota(t: TeamContext, destinationIds: string[]): Promise<void> {
  const q = await localQuotaFor(t, destinationIds);
  if (q && q.used >= q.limit) throw overQuota(q);
}

import "server-only";
import { and, eq, inArray, sum } from "drizzle-orm";
import { backupLocations, storageDestinations } from "@/db/schema";
import { db } from "../db";
import { env } from "../env";
import { AppError } from "../errors";
import { formatBytes } from "../format";
import { inTeam, type TeamContext } from "../teams/context";

/**
 * "This host's disk" destinations store on Coffer's own disk, which it shares with its database:
 * each team may fill LOCAL_STORAGE_QUOTA of it, counted from its stored copies there.
 */
export interface LocalQuota {
  /** Bytes the team's stored copies take there now. */
  used: number;
  limit: number;
}

/** The team's quota on this host's disk, or null when none of `destinationIds` is on it. */
export async function localQuotaFor(t: TeamContext, destinationIds: string[]): Promise<LocalQuota | null> {
  const d = await db();
  const local = await d
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
  if (!local.length) return null;
  const [row] = await d
    .select({ used: sum(backupLocations.sizeBytes).mapWith(Number) })
    .from(backupLocations)
    .innerJoin(
      storageDestinations,
      and(
        eq(storageDestinations.teamId, backupLocations.teamId),
        eq(storageDestinations.id, backupLocations.destinationId),
      ),
    )
    .where(inTeam(backupLocations, t, eq(storageDestinations.kind, "local"), eq(backupLocations.status, "stored")));
  return { used: row?.used ?? 0, limit: env().LOCAL_STORAGE_QUOTA };
}

export function overQuota(q: LocalQuota, adding = 0): AppError {
  return new AppError(
    "TOO_LARGE",
    `This team's backups on this host's disk would take more than its quota of ${formatBytes(q.limit)} (${formatBytes(q.used)} stored${adding ? `, and this upload had reached ${formatBytes(adding)}` : ""}). Delete older backups stored there (and empty them from the trash), or choose another destination.`,
  );
}

/** Refuses to start writing to this host's disk once the team's quota there is used up. */
export async function assertLocalQuota(t: TeamContext, destinationIds: string[]): Promise<void> {
  const q = await localQuotaFor(t, destinationIds);
  if (q && q.used >= q.limit) throw overQuota(q);
}

import "server-only";
import { and, asc, count, eq, inArray, sql, sum } from "drizzle-orm";
import { backupLocations, backups, storageDestinations } from "@/db/schema";
import { recordAudit } from "../audit/record";
import { db } from "../db";
import { notFound } from "../errors";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import { formatPrices, parsePrices, priceOf } from "./prices";

const GB = 1e9;

/** Per destination and storage class: bytes and objects stored now, and the monthly cost estimate. */
export async function storageUsage(t: TeamContext) {
  const d = await db();
  const rows = await d
    .select({
      destinationId: storageDestinations.id,
      name: storageDestinations.name,
      kind: storageDestinations.kind,
      prices: storageDestinations.prices,
      storageClass: backupLocations.storageClass,
      bytes: sum(backupLocations.sizeBytes).mapWith(Number),
      objects: count(),
    })
    .from(backupLocations)
    .innerJoin(
      storageDestinations,
      and(
        eq(storageDestinations.teamId, backupLocations.teamId),
        eq(storageDestinations.id, backupLocations.destinationId),
      ),
    )
    .where(inTeam(backupLocations, t, eq(backupLocations.status, "stored")))
    .groupBy(
      storageDestinations.id,
      storageDestinations.name,
      storageDestinations.kind,
      storageDestinations.prices,
      backupLocations.storageClass,
    )
    .orderBy(asc(storageDestinations.name), asc(backupLocations.storageClass));
  const lines = rows.map((r) => {
    const price = priceOf(r.kind, r.storageClass, r.prices);
    return { ...r, pricePerGbMonth: price, monthlyCost: (r.bytes / GB) * price };
  });
  return {
    lines,
    bytes: lines.reduce((n, l) => n + l.bytes, 0),
    monthlyCost: lines.reduce((n, l) => n + l.monthlyCost, 0),
  };
}

/**
 * Bytes stored at the end of each of the last `days` days (UTC), counting every copy, in all and
 * per destination (by id), from the backups' own history: a copy counts from the day its backup
 * finished until the day it expired.
 */
export async function storedBytesHistory(t: TeamContext, days = 30, now = new Date()) {
  const d = await db();
  const copies = await d
    .select({
      destinationId: backupLocations.destinationId,
      finishedAt: backups.finishedAt,
      expiredAt: backups.expiredAt,
      bytes: backupLocations.sizeBytes,
    })
    .from(backupLocations)
    .innerJoin(backups, and(eq(backups.teamId, backupLocations.teamId), eq(backups.id, backupLocations.backupId)))
    .where(
      inTeam(
        backupLocations,
        t,
        inArray(backups.status, ["succeeded", "expired"]),
        sql`${backupLocations.sizeBytes} is not null`,
      ),
    );
  const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + 86_400_000;
  return Array.from({ length: days }, (_, i) => {
    const at = end - (days - 1 - i) * 86_400_000;
    const byDestination: Record<string, number> = {};
    let bytes = 0;
    for (const c of copies)
      if (c.finishedAt && c.finishedAt.getTime() < at && (!c.expiredAt || c.expiredAt.getTime() >= at)) {
        bytes += c.bytes!;
        byDestination[c.destinationId] = (byDestination[c.destinationId] ?? 0) + c.bytes!;
      }
    return { day: new Date(at - 86_400_000).toISOString().slice(0, 10), bytes, byDestination };
  });
}

/** Overrides the list prices of a destination's classes for the estimate ("" restores them). */
export async function setDestinationPrices(t: TeamContext, destinationId: string, text: string) {
  assertRole(t, "admin");
  const d = await db();
  const [dest] = await d
    .select({ kind: storageDestinations.kind, name: storageDestinations.name })
    .from(storageDestinations)
    .where(inTeam(storageDestinations, t, eq(storageDestinations.id, destinationId)));
  if (!dest) throw notFound("That destination");
  const prices = parsePrices(text, dest.kind);
  await d.transaction(async (tx) => {
    await tx
      .update(storageDestinations)
      .set({ prices })
      .where(inTeam(storageDestinations, t, eq(storageDestinations.id, destinationId)));
    await recordAudit(tx, t, {
      action: "destination.prices_changed",
      target: { type: "destination", id: destinationId, label: dest.name },
      details: { prices: formatPrices(prices) || "list prices" },
    });
  });
  return { prices: formatPrices(prices) };
}

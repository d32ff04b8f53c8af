import "server-only";
import { and, inArray, lt, ne, notExists, eq } from "drizzle-orm";
import { notificationDeliveries, notificationEvents } from "@/db/schema";
import { db } from "../db";

/** The delivery log keeps 30 days. */
export const KEEP_MS = 30 * 24 * 3600_000;
const BATCH = 5_000;

/**
 * Deletes finished deliveries older than KEEP_MS, then events no delivery refers to any more, in
 * batches that each commit on their own (a long history does not hold one long transaction).
 */
export async function pruneNotificationsAllTeams(now = new Date()): Promise<{ deliveries: number; events: number }> {
  const d = await db();
  const before = new Date(now.getTime() - KEEP_MS);
  const pruned = { deliveries: 0, events: 0 };
  for (;;) {
    const old = d
      .select({ id: notificationDeliveries.id })
      .from(notificationDeliveries)
      .where(and(lt(notificationDeliveries.createdAt, before), ne(notificationDeliveries.status, "pending")))
      .limit(BATCH);
    const gone = await d
      .delete(notificationDeliveries)
      .where(inArray(notificationDeliveries.id, old))
      .returning({ id: notificationDeliveries.id });
    pruned.deliveries += gone.length;
    if (gone.length < BATCH) break;
  }
  for (;;) {
    const orphans = d
      .select({ id: notificationEvents.id })
      .from(notificationEvents)
      .where(
        and(
          lt(notificationEvents.createdAt, before),
          notExists(
            d
              .select({ id: notificationDeliveries.id })
              .from(notificationDeliveries)
              .where(
                and(
                  eq(notificationDeliveries.teamId, notificationEvents.teamId),
                  eq(notificationDeliveries.eventId, notificationEvents.id),
                ),
              ),
          ),
        ),
      )
      .limit(BATCH);
    const gone = await d
      .delete(notificationEvents)
      .where(inArray(notificationEvents.id, orphans))
      .returning({ id: notificationEvents.id });
    pruned.events += gone.length;
    if (gone.length < BATCH) break;
  }
  return pruned;
}

import "server-only";
import { and, lt, ne, notExists, eq } from "drizzle-orm";
import { notificationDeliveries, notificationEvents } from "@/db/schema";
import { db, deleteInBatches } from "../db";

/** The delivery log keeps 30 days. */
export const KEEP_MS = 30 * 24 * 3600_000;

/**
 * Deletes finished deliveries older than KEEP_MS, then events no delivery refers to any more, in
 * batches (deleteInBatches).
 */
export async function pruneNotificationsAllTeams(now = new Date()): Promise<{ deliveries: number; events: number }> {
  const d = await db();
  const before = new Date(now.getTime() - KEEP_MS);
  const deliveries = await deleteInBatches(
    notificationDeliveries,
    notificationDeliveries.id,
    and(lt(notificationDeliveries.createdAt, before), ne(notificationDeliveries.status, "pending")),
  );
  const events = await deleteInBatches(
    notificationEvents,
    notificationEvents.id,
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
  );
  return { deliveries, events };
}

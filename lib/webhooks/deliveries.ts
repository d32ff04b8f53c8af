import "server-only";
import { eq } from "drizzle-orm";
import { notificationChannels, notificationDeliveries } from "@/db/schema";
import { newId } from "@/db/columns";
import { recordAudit } from "../audit/record";
import { db } from "../db";
import { AppError, notFound } from "../errors";
import type { EventType } from "../notifications/catalogue";
import { appLink } from "../notifications/build";
import { enqueue } from "../notifications/emit";
import { exampleData } from "../notifications/examples";
import { notificationsQueued } from "../notifications/wake";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import { deliverNow, LEASE_MS } from "./deliver";

/**
 * Send test: a sample event (`"test": true`) to one channel, attempted at once, once, and logged
 * like any delivery. Returns what came back.
 */
export async function sendTest(t: TeamContext, channelId: string, type: EventType = "backup.succeeded") {
  assertRole(t, "admin");
  const d = await db();
  const [channel] = await d
    .select({ id: notificationChannels.id })
    .from(notificationChannels)
    .where(inTeam(notificationChannels, t, eq(notificationChannels.id, channelId)));
  if (!channel) throw notFound("That channel");
  // Held from delivery runs for as long as a claim would hold it: this request sends it and shows
  // the answer (a run that took it first would send it twice, or leave the request without one).
  // Should the request die first, a run sends it after the hold.
  const eventId = await enqueue(t, type, exampleData(type, appLink(t, "")), {
    channelId,
    test: true,
    holdMs: LEASE_MS,
  });
  const [delivery] = await d
    .select({ id: notificationDeliveries.id })
    .from(notificationDeliveries)
    .where(inTeam(notificationDeliveries, t, eq(notificationDeliveries.eventId, eventId!)));
  const outcome = await deliverNow(t.id, channelId, delivery!.id);
  if (!outcome) throw new AppError("CONFLICT", "The test was not sent: the channel was disabled or deleted meanwhile.");
  return {
    ok: outcome.ok,
    status: outcome.status,
    latencyMs: outcome.latencyMs,
    body: outcome.body?.slice(0, 500) ?? null,
    error: outcome.error,
  };
}

/** Redeliver: the same event (same `webhook-id`) to the same channel again, as a new delivery. */
export async function redeliver(t: TeamContext, deliveryId: string): Promise<{ id: string }> {
  assertRole(t, "admin");
  const d = await db();
  const id = newId("dlv");
  await d.transaction(async (tx) => {
    const [row] = await tx
      .select({
        channelId: notificationDeliveries.channelId,
        eventId: notificationDeliveries.eventId,
        enabled: notificationChannels.enabled,
        description: notificationChannels.description,
      })
      .from(notificationDeliveries)
      .innerJoin(notificationChannels, eq(notificationChannels.id, notificationDeliveries.channelId))
      .where(inTeam(notificationDeliveries, t, eq(notificationDeliveries.id, deliveryId)));
    if (!row) throw notFound("That delivery");
    if (!row.enabled) throw new AppError("CONFLICT", "This channel is disabled: enable it first, then redeliver.");
    await tx
      .insert(notificationDeliveries)
      .values({ id, teamId: t.id, channelId: row.channelId, eventId: row.eventId, redeliveryOf: deliveryId });
    await recordAudit(tx, t, {
      action: "delivery.redelivered",
      target: { type: "channel", id: row.channelId, label: row.description || undefined },
      details: { eventId: row.eventId, deliveryId },
    });
  });
  notificationsQueued();
  return { id };
}

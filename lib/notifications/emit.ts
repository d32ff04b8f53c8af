import "server-only";
import { and, eq, or, sql } from "drizzle-orm";
import { notificationChannels, notificationDeliveries, notificationEvents } from "@/db/schema";
import { newId } from "@/db/columns";
import { db } from "../db";
import { log } from "../log";
import type { TeamContext } from "../teams/context";
import { buildData, dedupeKey, type Subjects } from "./build";
import { catalogue, type Envelope, type EventData, type EventType } from "./catalogue";
import { notificationsQueued } from "./wake";
import { inTeam } from "../teams/context";

/**
 * Produces an event: one row in the outbox (its exact JSON body) and one pending delivery per
 * enabled channel of the team that wants it, in one transaction, then asks for a delivery run.
 * Never throws and never waits on a channel: a failure here is logged and the caller goes on.
 */
export async function emit<T extends EventType>(t: TeamContext, type: T, subject: Subjects[T]): Promise<void> {
  try {
    const data = await buildData[type](t, subject);
    if (!data) return;
    if (await enqueue(t, type, data, { dedupeKey: dedupeKey(type, subject) })) notificationsQueued();
  } catch (err) {
    log.warn("notification event not produced", { type, teamId: t.id, err });
  }
}

/** The event's envelope, as every channel receives it. */
export function envelope<T extends EventType>(
  t: TeamContext,
  type: T,
  data: EventData[T],
  o: { id: string; at: Date; test?: boolean },
): Envelope<T> {
  return {
    id: o.id,
    type,
    version: catalogue[type].version,
    timestamp: o.at.toISOString(),
    team: { id: t.id, slug: t.slug, name: t.name },
    data,
    ...(o.test ? { test: true as const } : {}),
  };
}

/**
 * Stores an event and its deliveries: to every enabled channel of the team whose filter takes it,
 * or only to `channelId` (a test). Returns the event's id, or null when its dedupe key was seen.
 * `holdMs` keeps the deliveries from delivery runs that long (a Send test's request attempts its own).
 */
export async function enqueue<T extends EventType>(
  t: TeamContext,
  type: T,
  data: EventData[T],
  o: { dedupeKey?: string | null; channelId?: string; test?: boolean; holdMs?: number },
): Promise<string | null> {
  const id = newId("evt");
  const body = JSON.stringify(envelope(t, type, data, { id, at: new Date(), test: o.test }));
  const d = await db();
  return d.transaction(async (tx) => {
    const [event] = await tx
      .insert(notificationEvents)
      .values({
        id,
        teamId: t.id,
        type,
        version: catalogue[type].version,
        body,
        dedupeKey: o.dedupeKey,
        test: !!o.test,
      })
      .onConflictDoNothing()
      .returning({ id: notificationEvents.id });
    if (!event) return null;
    const channels = await tx
      .select({ id: notificationChannels.id })
      .from(notificationChannels)
      .where(
        and(
          inTeam(notificationChannels, { id: t.id }),
          o.channelId
            ? eq(notificationChannels.id, o.channelId)
            : and(
                eq(notificationChannels.enabled, true),
                or(
                  sql`${notificationChannels.events} = '[]'::jsonb`,
                  sql`${notificationChannels.events} @> ${JSON.stringify([type])}::jsonb`,
                ),
              ),
        ),
      );
    if (channels.length)
      await tx.insert(notificationDeliveries).values(
        channels.map((c) => ({
          id: newId("dlv"),
          teamId: t.id,
          channelId: c.id,
          eventId: id,
          nextAttemptAt: o.holdMs ? sql`now() + ${`${o.holdMs} milliseconds`}::interval` : undefined,
        })),
      );
    return id;
  });
}

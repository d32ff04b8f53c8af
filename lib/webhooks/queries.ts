import "server-only";
import { and, asc, count, desc, eq, gte, sql } from "drizzle-orm";
import { notificationChannels, notificationDeliveries, notificationEvents } from "@/db/schema";
import { db } from "../db";
import { assertRole, inTeam, requireRow, type TeamContext } from "../teams/context";
import type { deliveryStatuses } from "./schemas";

// Never the sealed columns: URLs (which may carry a token) and the signing secrets stay in the database.
const columns = {
  id: notificationChannels.id,
  kind: notificationChannels.kind,
  description: notificationChannels.description,
  urlHint: notificationChannels.urlHint,
  events: notificationChannels.events,
  enabled: notificationChannels.enabled,
  previousSecretUntil: notificationChannels.previousSecretUntil,
  emailRoles: notificationChannels.emailRoles,
  emailAddresses: notificationChannels.emailAddresses,
  failingSince: notificationChannels.failingSince,
  failedInRow: notificationChannels.failedInRow,
  disabledAt: notificationChannels.disabledAt,
  disabledReason: notificationChannels.disabledReason,
  createdBy: notificationChannels.createdBy,
  createdAt: notificationChannels.createdAt,
};

/** The team's channels (admins), each with its deliveries of the last 24 hours by status. */
export async function listChannels(t: TeamContext) {
  assertRole(t, "admin");
  const d = await db();
  const [rows, recent] = await Promise.all([
    d
      .select(columns)
      .from(notificationChannels)
      .where(inTeam(notificationChannels, t))
      .orderBy(asc(notificationChannels.createdAt)),
    d
      .select({ channelId: notificationDeliveries.channelId, status: notificationDeliveries.status, n: count() })
      .from(notificationDeliveries)
      .where(inTeam(notificationDeliveries, t, gte(notificationDeliveries.createdAt, sql`now() - interval '24 hours'`)))
      .groupBy(notificationDeliveries.channelId, notificationDeliveries.status),
  ]);
  return rows.map((r) => ({
    ...r,
    previousSecretUntil: r.previousSecretUntil && r.previousSecretUntil > new Date() ? r.previousSecretUntil : null,
    last24h: Object.fromEntries(recent.filter((x) => x.channelId === r.id).map((x) => [x.status, x.n])) as Partial<
      Record<(typeof deliveryStatuses)[number], number>
    >,
  }));
}
export type ChannelView = Awaited<ReturnType<typeof listChannels>>[number];

export async function getChannel(t: TeamContext, channelId: string): Promise<ChannelView> {
  return requireRow(
    (await listChannels(t)).find((c) => c.id === channelId),
    "That channel",
  );
}

/** A channel's delivery log, newest first, optionally of one status. */
export async function listDeliveries(
  t: TeamContext,
  channelId: string,
  filter: { status?: (typeof deliveryStatuses)[number]; limit?: number } = {},
) {
  assertRole(t, "admin");
  const d = await db();
  return d
    .select({
      id: notificationDeliveries.id,
      eventId: notificationDeliveries.eventId,
      type: notificationEvents.type,
      test: notificationEvents.test,
      status: notificationDeliveries.status,
      attempts: notificationDeliveries.attempts,
      nextAttemptAt: notificationDeliveries.nextAttemptAt,
      lastAttemptAt: notificationDeliveries.lastAttemptAt,
      responseStatus: notificationDeliveries.responseStatus,
      responseBody: sql<string | null>`left(${notificationDeliveries.responseBody}, 300)`,
      latencyMs: notificationDeliveries.latencyMs,
      error: notificationDeliveries.error,
      redeliveryOf: notificationDeliveries.redeliveryOf,
      createdAt: notificationDeliveries.createdAt,
    })
    .from(notificationDeliveries)
    .innerJoin(
      notificationEvents,
      and(
        eq(notificationEvents.teamId, notificationDeliveries.teamId),
        eq(notificationEvents.id, notificationDeliveries.eventId),
      ),
    )
    .where(
      inTeam(
        notificationDeliveries,
        t,
        eq(notificationDeliveries.channelId, channelId),
        filter.status ? eq(notificationDeliveries.status, filter.status) : undefined,
      ),
    )
    .orderBy(desc(notificationDeliveries.createdAt), desc(notificationDeliveries.id))
    .limit(Math.min(filter.limit ?? 50, 200));
}

import { and, desc, eq } from "drizzle-orm";
import {
  apiIdempotencyKeys,
  apiTokens,
  backupLocations,
  backups,
  notificationChannels,
  notificationDeliveries,
  notificationEvents,
  restores,
  scheduleHealth,
  schedules,
  storageDestinations,
  users,
} from "@/db/schema";
import { linkBackup } from "@/lib/backups/links";
import { db } from "@/lib/db";
import type { EventData, EventType } from "@/lib/notifications/catalogue";

/**
 * Test arrangements no product path makes: a schedule slot or a backup's dates moved into the
 * past, a run a dead process left behind, a destination that stops answering. Workflow tests use
 * these instead of reaching into db/ themselves.
 */
export async function setScheduleRow(id: string, set: Partial<typeof schedules.$inferInsert>) {
  await (await db()).update(schedules).set(set).where(eq(schedules.id, id));
}

/** Many schedules at once (the form's checks, one at a time, would take minutes); returns their ids. */
export async function insertScheduleRows(values: (typeof schedules.$inferInsert)[]): Promise<string[]> {
  const rows = await (await db()).insert(schedules).values(values).returning({ id: schedules.id });
  return rows.map((r) => r.id);
}

export async function scheduleNextRun(id: string): Promise<Date | null> {
  const [row] = await (
    await db()
  )
    .select({ nextRunAt: schedules.nextRunAt })
    .from(schedules)
    .where(eq(schedules.id, id));
  return row!.nextRunAt;
}

export async function setBackupRow(id: string, set: Partial<typeof backups.$inferInsert>) {
  await (await db()).update(backups).set(set).where(eq(backups.id, id));
}

/** When a run's leftovers were recorded as still to remove (null: none are). */
export async function backupLeftoversPendingAt(id: string): Promise<Date | null> {
  const [row] = await (await db()).select({ at: backups.leftoversPendingAt }).from(backups).where(eq(backups.id, id));
  return row!.at;
}

/** A backup row with its sources and destinations, as no product path makes it (dates, statuses of choice). */
export async function insertBackupRow(
  values: typeof backups.$inferInsert & { sourceIds?: string[]; destinationIds?: string[] },
): Promise<string> {
  const { sourceIds = [], destinationIds = [], ...row } = values;
  return (await db()).transaction(async (tx) => {
    const [inserted] = await tx.insert(backups).values(row).returning({ id: backups.id });
    await linkBackup(tx, { teamId: row.teamId, backupId: inserted!.id, sourceIds, destinationIds });
    return inserted!.id;
  });
}

export async function insertLocationRow(values: typeof backupLocations.$inferInsert) {
  await (await db()).insert(backupLocations).values(values);
}

export async function setLocationRow(
  backupId: string,
  destinationId: string,
  set: Partial<typeof backupLocations.$inferInsert>,
) {
  await (
    await db()
  )
    .update(backupLocations)
    .set(set)
    .where(and(eq(backupLocations.backupId, backupId), eq(backupLocations.destinationId, destinationId)));
}

export async function destinationSettings(id: string) {
  const [row] = await (
    await db()
  )
    .select({ settings: storageDestinations.settings })
    .from(storageDestinations)
    .where(eq(storageDestinations.id, id));
  return row!.settings;
}

export async function setDestinationSettings(id: string, settings: Record<string, string | boolean>) {
  await (await db()).update(storageDestinations).set({ settings }).where(eq(storageDestinations.id, id));
}

export async function setRestoreRow(id: string, set: Partial<typeof restores.$inferInsert>) {
  await (await db()).update(restores).set(set).where(eq(restores.id, id));
}

export async function setChannelRow(id: string, set: Partial<typeof notificationChannels.$inferInsert>) {
  await (await db()).update(notificationChannels).set(set).where(eq(notificationChannels.id, id));
}

/** A channel row as an earlier configuration saved it (a URL the present one would refuse). */
export async function insertChannelRow(values: typeof notificationChannels.$inferInsert) {
  await (await db()).insert(notificationChannels).values(values);
}

/** The retries of a channel come due now (instead of in 5 minutes, 30 minutes, …). */
export async function makeDeliveriesDue(channelId: string) {
  await (
    await db()
  )
    .update(notificationDeliveries)
    .set({ nextAttemptAt: new Date(Date.now() - 1000) })
    .where(and(eq(notificationDeliveries.channelId, channelId), eq(notificationDeliveries.status, "pending")));
}

/** A channel's pending deliveries as if `attempts` attempts had failed, due now. */
export async function setDeliveryAttempts(channelId: string, attempts: number) {
  await (
    await db()
  )
    .update(notificationDeliveries)
    .set({ attempts, nextAttemptAt: new Date(Date.now() - 1000) })
    .where(and(eq(notificationDeliveries.channelId, channelId), eq(notificationDeliveries.status, "pending")));
}

/** A channel's deliveries (and their events) as if made `days` ago. */
export async function ageDeliveries(channelId: string, days: number) {
  const d = await db();
  const at = new Date(Date.now() - days * 86_400_000);
  const rows = await d
    .update(notificationDeliveries)
    .set({ createdAt: at })
    .where(eq(notificationDeliveries.channelId, channelId))
    .returning({ eventId: notificationDeliveries.eventId });
  for (const r of rows)
    await d.update(notificationEvents).set({ createdAt: at }).where(eq(notificationEvents.id, r.eventId));
}

export async function setScheduleHealthRow(scheduleId: string, set: Partial<typeof scheduleHealth.$inferInsert>) {
  await (await db()).update(scheduleHealth).set(set).where(eq(scheduleHealth.scheduleId, scheduleId));
}

/** An API Idempotency-Key as if it had been used `hours` ago. */
export async function ageIdempotencyKey(teamId: string, key: string, hours: number) {
  await (
    await db()
  )
    .update(apiIdempotencyKeys)
    .set({ createdAt: new Date(Date.now() - hours * 3_600_000) })
    .where(and(eq(apiIdempotencyKeys.teamId, teamId), eq(apiIdempotencyKeys.key, key)));
}

export async function setApiTokenRow(id: string, set: Partial<typeof apiTokens.$inferInsert>) {
  await (await db()).update(apiTokens).set(set).where(eq(apiTokens.id, id));
}

/** As if the account's owner had opened the verification link (lib/auth/email-verification.int.test.ts goes that way). */
export async function markEmailVerified(userId: string) {
  await (await db()).update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, userId));
}

/** The `data` of the team's newest event of `type`, as its channels receive it (null when there is none). */
export async function newestEventData<T extends EventType>(teamId: string, type: T): Promise<EventData[T] | null> {
  const [e] = await (
    await db()
  )
    .select({ body: notificationEvents.body })
    .from(notificationEvents)
    .where(and(eq(notificationEvents.teamId, teamId), eq(notificationEvents.type, type)))
    .orderBy(desc(notificationEvents.createdAt))
    .limit(1);
  return e ? (JSON.parse(e.body) as { data: EventData[T] }).data : null;
}

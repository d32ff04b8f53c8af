import { eq, sql } from "drizzle-orm";
import {
  auditEvents,
  backupDestinations,
  backupLocations,
  backups,
  backupSources,
  scheduleDestinations,
  schedules,
  scheduleSources,
} from "@/db/schema";
import { newId } from "@/db/columns";
import { db } from "@/lib/db";

/**
 * Rows in the tens of thousands for scale tests and benchmarks, inserted in batches (a statement
 * holds at most 65 535 parameters), as no product path makes them at once.
 */
const BATCH = 1_000;

async function inBatches<T>(items: T[], insert: (batch: T[]) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += BATCH) await insert(items.slice(i, i + BATCH));
}

/** `count` copies of a schedule (same team, server, sources and destinations) named `<name> <i>`, with `set` changed. */
export async function copySchedule(
  scheduleId: string,
  count: number,
  set: Partial<typeof schedules.$inferInsert>,
): Promise<string[]> {
  const d = await db();
  const [s] = await d.select().from(schedules).where(eq(schedules.id, scheduleId));
  const src = await d.select().from(scheduleSources).where(eq(scheduleSources.scheduleId, scheduleId));
  const dst = await d.select().from(scheduleDestinations).where(eq(scheduleDestinations.scheduleId, scheduleId));
  const rows = Array.from({ length: count }, (_, i) => ({
    ...s!,
    id: newId("sch"),
    name: `${s!.name} ${i + 1}`,
    createdAt: undefined,
    ...set,
  }));
  await d.transaction(async (tx) => {
    await inBatches(rows, (b) => tx.insert(schedules).values(b));
    await inBatches(
      rows.flatMap((r) => src.map((l) => ({ ...l, scheduleId: r.id }))),
      (b) => tx.insert(scheduleSources).values(b),
    );
    await inBatches(
      rows.flatMap((r) => dst.map((l) => ({ ...l, scheduleId: r.id }))),
      (b) => tx.insert(scheduleDestinations).values(b),
    );
  });
  return rows.map((r) => r.id);
}

/**
 * `count` finished backups of a team, two a minute back from `newest` (equal times, so pages are
 * ordered by id as well), taking turns among `serverIds`, each stored in `destinationId` when given.
 */
export async function insertBackupRows(
  b: { teamId: string; serverIds: string[]; destinationId?: string; newest: Date },
  count: number,
): Promise<string[]> {
  const d = await db();
  const rows = Array.from({ length: count }, (_, i) => {
    const at = new Date(b.newest.getTime() - Math.floor(i / 2) * 60_000);
    return {
      id: newId("bkp"),
      teamId: b.teamId,
      serverId: b.serverIds[i % b.serverIds.length]!,
      trigger: "manual" as const,
      status: "succeeded" as const,
      encrypted: true,
      fileName: "bulk.tar.gz",
      sizeBytes: 1_000 + i,
      createdAt: at,
      startedAt: at,
      finishedAt: new Date(at.getTime() + 5_000),
    };
  });
  await d.transaction(async (tx) => {
    await inBatches(rows, (batch) => tx.insert(backups).values(batch));
    const destinationId = b.destinationId;
    if (destinationId)
      await inBatches(rows, (batch) =>
        tx.insert(backupLocations).values(
          batch.map((r) => ({
            teamId: r.teamId,
            backupId: r.id,
            destinationId,
            objectKey: `${r.serverId}/${r.id}.tar.gz.enc`,
            status: "stored" as const,
            sizeBytes: r.sizeBytes,
          })),
        ),
      );
  });
  return rows.map((r) => r.id);
}

/** `count` audit events of a team, one a second back from `newest`. */
export async function insertAuditRows(teamId: string, count: number, newest: Date): Promise<void> {
  const d = await db();
  const rows = Array.from({ length: count }, (_, i) => ({
    teamId,
    actor: `person-${i % 50}@example.test`,
    action: i % 3 ? "backup.downloaded" : "backup.requested",
    targetType: "backup",
    targetId: `bkp_${i}`,
    targetLabel: `backup ${i}`,
    createdAt: new Date(newest.getTime() - i * 1_000),
  }));
  await d.transaction((tx) => inBatches(rows, (batch) => tx.insert(auditEvents).values(batch)));
}

/** How many sources and destinations each of a team's backups is linked to: `sources×destinations` → backups. */
export async function backupLinkCounts(teamId: string): Promise<Record<string, number>> {
  const d = await db();
  const rows = await d
    .select({
      sources: sql<number>`(select count(*) from ${backupSources} where ${backupSources.backupId} = ${backups.id})::int`,
      destinations: sql<number>`(select count(*) from ${backupDestinations} where ${backupDestinations.backupId} = ${backups.id})::int`,
    })
    .from(backups)
    .where(eq(backups.teamId, teamId));
  const out: Record<string, number> = {};
  for (const r of rows) out[`${r.sources}×${r.destinations}`] = (out[`${r.sources}×${r.destinations}`] ?? 0) + 1;
  return out;
}

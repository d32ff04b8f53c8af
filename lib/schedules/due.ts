import "server-only";
import { and, asc, eq, exists, inArray, lte, sql } from "drizzle-orm";
import {
  backupDestinations,
  backups,
  backupSources,
  scheduleDestinations,
  schedules,
  scheduleSources,
  servers,
} from "@/db/schema";
import { newId } from "@/db/columns";
import { backupFileName } from "../backups/mutations";
import { db, type Transaction } from "../db";
import { log } from "../log";
import { nextRun } from "./cron";

export interface DueBackup {
  teamId: string;
  serverId: string;
  backupId: string;
  scheduleId: string;
  slot: Date;
}

/** How many schedules one claim takes: small step outputs and event batches, few statements per minute. */
const CLAIM_BATCH = 1_000;

/**
 * Turns up to `limit` due schedules into one queued backup each for its slot and moves them to
 * their next slot after `now`, in a few set-based statements. After downtime a schedule that
 * missed several slots runs once (for the first missed slot), not once per slot. Safe to run
 * concurrently: the schedules are locked (SKIP LOCKED, so racing claims take different ones) and
 * (schedule, slot) is unique, so a slot never gets two backups. `more`: the batch was full, claim
 * again.
 */
export async function claimDueSchedulesAllTeams(
  now = new Date(),
  limit = CLAIM_BATCH,
): Promise<{ due: DueBackup[]; more: boolean }> {
  const d = await db();
  // Most minutes nothing is due: one indexed look, without a transaction's round trips.
  const [any] = await d
    .select({ id: schedules.id })
    .from(schedules)
    .where(and(eq(schedules.enabled, true), lte(schedules.nextRunAt, now)))
    .orderBy(asc(schedules.nextRunAt)) // read from the due index; without an order a planner may scan them all
    .limit(1);
  if (!any) return { due: [], more: false };
  return d.transaction(async (tx) => {
    const locked = await lockDueSchedulesAllTeams(tx, now, limit);
    if (!locked.length) return { due: [], more: false };
    await moveToNextSlotAllTeams(tx, locked, now);
    // A schedule left without sources or destinations cannot start; it must not hold up the others.
    const runnable = locked.filter((s) => s.hasSources && s.hasDestinations);
    if (runnable.length < locked.length)
      log.warn("schedules could not start a backup: no sources or no destinations", {
        scheduleIds: locked.filter((s) => !runnable.includes(s)).map((s) => s.id),
      });
    const due = runnable.length ? await insertSlotBackupsAllTeams(tx, runnable) : [];
    return { due, more: locked.length === limit };
  });
}

function lockDueSchedulesAllTeams(tx: Transaction, now: Date, limit: number) {
  return tx
    .select({
      id: schedules.id,
      teamId: schedules.teamId,
      serverId: schedules.serverId,
      name: schedules.name,
      cron: schedules.cron,
      timezone: schedules.timezone,
      encrypted: schedules.encrypted,
      encryption: schedules.encryption,
      compression: schedules.compression,
      verify: schedules.verify,
      verifySourceId: schedules.verifySourceId,
      slot: schedules.nextRunAt,
      serverName: servers.name,
      hasSources: exists(
        tx
          .select({ one: sql`1` })
          .from(scheduleSources)
          .where(and(eq(scheduleSources.teamId, schedules.teamId), eq(scheduleSources.scheduleId, schedules.id))),
      ),
      hasDestinations: exists(
        tx
          .select({ one: sql`1` })
          .from(scheduleDestinations)
          .where(
            and(eq(scheduleDestinations.teamId, schedules.teamId), eq(scheduleDestinations.scheduleId, schedules.id)),
          ),
      ),
    })
    .from(schedules)
    .innerJoin(servers, and(eq(servers.teamId, schedules.teamId), eq(servers.id, schedules.serverId)))
    .where(and(eq(schedules.enabled, true), lte(schedules.nextRunAt, now)))
    .orderBy(asc(schedules.nextRunAt))
    .limit(limit)
    .for("update", { of: schedules, skipLocked: true });
}
type LockedSchedule = Awaited<ReturnType<typeof lockDueSchedulesAllTeams>>[number];

/** One UPDATE for the batch; schedules sharing a cron and time zone (most do) compute their next slot once. */
async function moveToNextSlotAllTeams(tx: Transaction, locked: LockedSchedule[], now: Date) {
  const next = new Map<string, string | null>();
  const nextOf = (s: LockedSchedule) => {
    const key = `${s.cron}\n${s.timezone}`;
    if (!next.has(key)) next.set(key, nextRun(s.cron, s.timezone, now)?.toISOString() ?? null);
    return next.get(key)!;
  };
  const cases = locked.map((s) => sql`when ${s.id} then ${nextOf(s)}::timestamptz`);
  await tx
    .update(schedules)
    .set({ nextRunAt: sql`case ${schedules.id} ${sql.join(cases, sql` `)} end` })
    .where(
      inArray(
        schedules.id,
        locked.map((s) => s.id),
      ),
    );
}

/** The slots' backups in one INSERT (a slot that already has its backup is skipped), then their links in one each. */
async function insertSlotBackupsAllTeams(tx: Transaction, runnable: LockedSchedule[]): Promise<DueBackup[]> {
  const requestedAt = new Date();
  const inserted = await tx
    .insert(backups)
    .values(
      runnable.map((s) => ({
        id: newId("bkp"),
        teamId: s.teamId,
        serverId: s.serverId,
        scheduleId: s.id,
        scheduledFor: s.slot!,
        trigger: "schedule" as const,
        encrypted: s.encrypted,
        encryption: s.encryption,
        compression: s.compression,
        verify: s.verify,
        verifySourceId: s.verify ? s.verifySourceId : null,
        requestedBy: `system: schedule ${s.name}`,
        fileName: backupFileName(s.serverName, requestedAt),
      })),
    )
    .onConflictDoNothing({ target: [backups.scheduleId, backups.scheduledFor] })
    .returning({
      teamId: backups.teamId,
      serverId: backups.serverId,
      backupId: backups.id,
      scheduleId: backups.scheduleId,
      slot: backups.scheduledFor,
    });
  if (!inserted.length) return [];
  const ids = inserted.map((b) => b.backupId);
  await tx.insert(backupSources).select(
    tx
      .select({ teamId: backups.teamId, backupId: backups.id, sourceId: scheduleSources.sourceId })
      .from(backups)
      .innerJoin(
        scheduleSources,
        and(eq(scheduleSources.teamId, backups.teamId), eq(scheduleSources.scheduleId, backups.scheduleId)),
      )
      .where(inArray(backups.id, ids)),
  );
  await tx.insert(backupDestinations).select(
    tx
      .select({ teamId: backups.teamId, backupId: backups.id, destinationId: scheduleDestinations.destinationId })
      .from(backups)
      .innerJoin(
        scheduleDestinations,
        and(eq(scheduleDestinations.teamId, backups.teamId), eq(scheduleDestinations.scheduleId, backups.scheduleId)),
      )
      .where(inArray(backups.id, ids)),
  );
  return inserted.map((b) => ({ ...b, scheduleId: b.scheduleId!, slot: b.slot! }));
}

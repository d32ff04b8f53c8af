import "server-only";
import { and, eq, lte } from "drizzle-orm";
import { scheduleDestinations, schedules, scheduleSources, teams } from "@/db/schema";
import { insertBackup } from "../backups/mutations";
import { db } from "../db";
import { log } from "../log";
import { systemContext } from "../teams/context";
import { nextRun } from "./cron";

export interface DueBackup {
  teamId: string;
  serverId: string;
  backupId: string;
  scheduleId: string;
  slot: Date;
}

/**
 * Turns every due schedule into one queued backup for its slot and moves the schedule to its next
 * slot after `now`. After downtime a schedule that missed several slots runs once (for the first
 * missed slot), not once per slot. Safe to run concurrently: rows are locked (SKIP LOCKED) and the
 * (schedule, slot) pair is unique, so a slot never gets two backups.
 */
export async function claimDueSchedulesAllTeams(now = new Date(), limit = 200): Promise<DueBackup[]> {
  const d = await db();
  return d.transaction(async (tx) => {
    const due = await tx
      .select({ s: schedules, team: { id: teams.id, slug: teams.slug, name: teams.name } })
      .from(schedules)
      .innerJoin(teams, eq(teams.id, schedules.teamId))
      .where(and(eq(schedules.enabled, true), lte(schedules.nextRunAt, now)))
      .orderBy(schedules.nextRunAt)
      .limit(limit)
      .for("update", { of: schedules, skipLocked: true });
    const out: DueBackup[] = [];
    for (const { s, team } of due) {
      const slot = s.nextRunAt!;
      await tx
        .update(schedules)
        .set({ nextRunAt: nextRun(s.cron, s.timezone, now) })
        .where(eq(schedules.id, s.id));
      const t = systemContext(team, `schedule ${s.name}`);
      const [src, dst] = await Promise.all([
        tx.select({ id: scheduleSources.sourceId }).from(scheduleSources).where(eq(scheduleSources.scheduleId, s.id)),
        tx
          .select({ id: scheduleDestinations.destinationId })
          .from(scheduleDestinations)
          .where(eq(scheduleDestinations.scheduleId, s.id)),
      ]);
      try {
        const created = await tx.transaction((sp) =>
          insertBackup(sp, t, {
            serverId: s.serverId,
            sourceIds: src.map((r) => r.id),
            destinationIds: dst.map((r) => r.id),
            encrypted: s.encrypted,
            compression: s.compression,
            trigger: "schedule",
            scheduleId: s.id,
            scheduledFor: slot,
            verify: s.verify,
            verifySourceId: s.verifySourceId ?? undefined,
          }),
        );
        if (created) out.push({ teamId: s.teamId, serverId: s.serverId, backupId: created.id, scheduleId: s.id, slot });
      } catch (err) {
        // A schedule that cannot start (its sources were removed…) must not hold up the others.
        log.warn("schedule could not start a backup", { scheduleId: s.id, err });
      }
    }
    return out;
  });
}

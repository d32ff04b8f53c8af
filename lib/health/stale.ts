import "server-only";
import { and, desc, eq, inArray, isNotNull, isNull, sql } from "drizzle-orm";
import { backups, scheduleHealth, schedules } from "@/db/schema";
import { db, type Transaction } from "../db";
import { emit } from "../notifications/emit";
import { systemTeam, type TeamContext } from "../teams/context";
import { staleAfterMs } from "./interval";

/** Each schedule's newest successful backup (expired ones were successful too). */
export async function newestSuccessesAllTeams() {
  const d = await db();
  return d
    .selectDistinctOn([backups.scheduleId], {
      scheduleId: backups.scheduleId,
      backupId: backups.id,
      finishedAt: backups.finishedAt,
    })
    .from(backups)
    .where(and(isNotNull(backups.scheduleId), inArray(backups.status, ["succeeded", "expired"])))
    .orderBy(backups.scheduleId, desc(backups.finishedAt));
}

/**
 * Starts a schedule's clock again from now, as a resume does: for a schedule that now backs up
 * another server or other sources, whose earlier backups are no longer its own.
 */
export async function watchAfresh(tx: Transaction, t: TeamContext, scheduleId: string) {
  await tx
    .insert(scheduleHealth)
    .values({ scheduleId, teamId: t.id, watchedSince: sql`now()` })
    .onConflictDoUpdate({ target: scheduleHealth.scheduleId, set: { watchedSince: sql`now()` } });
}

/**
 * One pass of stale-backup detection over every enabled schedule of every team. A schedule is
 * stale when its newest successful backup — or the time it began being watched (its creation, or its
 * last resume), if that is later — is older than its interval plus its grace period. `backup.stale` goes out once per stale episode (a guarded UPDATE claims it, so
 * overlapping passes cannot both send it) and `backup.recovered` once a backup succeeded after it.
 */
export async function detectStaleSchedulesAllTeams(now = new Date()) {
  const d = await db();
  // A paused schedule is not watched; resuming starts its clock again.
  await d
    .update(scheduleHealth)
    .set({ watchedSince: null })
    .where(
      and(
        isNotNull(scheduleHealth.watchedSince),
        sql`${scheduleHealth.scheduleId} in (select id from ${schedules} where not ${schedules.enabled})`,
      ),
    );
  const rows = await d
    .select({
      id: schedules.id,
      teamId: schedules.teamId,
      cron: schedules.cron,
      timezone: schedules.timezone,
      staleGraceMinutes: schedules.staleGraceMinutes,
      createdAt: schedules.createdAt,
      known: scheduleHealth.scheduleId,
      watchedSince: scheduleHealth.watchedSince,
      staleSince: scheduleHealth.staleSince,
    })
    .from(schedules)
    .leftJoin(scheduleHealth, eq(scheduleHealth.scheduleId, schedules.id))
    .where(eq(schedules.enabled, true));
  const newest = new Map((await newestSuccessesAllTeams()).map((n) => [n.scheduleId!, n]));
  const unwatched = rows.filter((r) => !r.watchedSince);
  if (unwatched.length)
    await d
      .insert(scheduleHealth)
      // Watched since it was created, or, when it was paused, since it was resumed.
      .values(unwatched.map((r) => ({ scheduleId: r.id, teamId: r.teamId, watchedSince: r.known ? now : r.createdAt })))
      .onConflictDoUpdate({
        target: scheduleHealth.scheduleId,
        set: { watchedSince: sql`coalesce(${scheduleHealth.watchedSince}, excluded.watched_since)` },
      });

  const teams = new Map<string, Promise<TeamContext>>();
  const teamOf = (id: string) => {
    if (!teams.has(id)) teams.set(id, systemTeam(id, "stale-backup detection"));
    return teams.get(id)!;
  };
  const result = { checked: rows.length, stale: 0, recovered: 0 };
  for (const r of rows) {
    const success = newest.get(r.id);
    const watched = r.watchedSince ?? (r.known ? now : r.createdAt);
    const reference = success?.finishedAt && success.finishedAt > watched ? success.finishedAt : watched;
    const threshold = staleAfterMs(r, now);
    const stale = now.getTime() - reference.getTime() > threshold;
    if (stale && !r.staleSince) {
      const [claimed] = await d
        .update(scheduleHealth)
        .set({ staleSince: now })
        .where(and(eq(scheduleHealth.scheduleId, r.id), isNull(scheduleHealth.staleSince)))
        .returning({ staleSince: scheduleHealth.staleSince });
      if (!claimed) continue;
      result.stale++;
      await emit(await teamOf(r.teamId), "backup.stale", {
        scheduleId: r.id,
        staleSince: claimed.staleSince!,
        lastSuccessAt: success?.finishedAt ?? null,
        staleAfterSeconds: Math.round(threshold / 1000),
      });
    } else if (!stale && r.staleSince) {
      const [cleared] = await d
        .update(scheduleHealth)
        .set({ staleSince: null })
        .where(and(eq(scheduleHealth.scheduleId, r.id), eq(scheduleHealth.staleSince, r.staleSince)))
        .returning({ scheduleId: scheduleHealth.scheduleId });
      // No longer stale because the grace period grew is not a recovery: only a new success is.
      if (!cleared || !success?.finishedAt || success.finishedAt <= r.staleSince) continue;
      result.recovered++;
      await emit(await teamOf(r.teamId), "backup.recovered", {
        scheduleId: r.id,
        staleSince: r.staleSince,
        backupId: success.backupId,
      });
    }
  }
  return result;
}

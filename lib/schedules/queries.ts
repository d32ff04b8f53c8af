import "server-only";
import { and, asc, eq } from "drizzle-orm";
import { scheduleDestinations, schedules, scheduleSources, servers, sources, storageDestinations } from "@/db/schema";
import { db } from "../db";
import { inTeam, requireRow, type TeamContext } from "../teams/context";
import { describePolicy } from "../retention/select";
import { cronToPreset, describeCron, nextRuns } from "./cron";

async function links(t: TeamContext) {
  const d = await db();
  const [src, dst] = await Promise.all([
    d
      .select({ scheduleId: scheduleSources.scheduleId, id: sources.id, name: sources.name })
      .from(scheduleSources)
      .innerJoin(sources, and(eq(sources.teamId, scheduleSources.teamId), eq(sources.id, scheduleSources.sourceId)))
      .where(inTeam(scheduleSources, t)),
    d
      .select({
        scheduleId: scheduleDestinations.scheduleId,
        id: storageDestinations.id,
        name: storageDestinations.name,
      })
      .from(scheduleDestinations)
      .innerJoin(
        storageDestinations,
        and(
          eq(storageDestinations.teamId, scheduleDestinations.teamId),
          eq(storageDestinations.id, scheduleDestinations.destinationId),
        ),
      )
      .where(inTeam(scheduleDestinations, t)),
  ]);
  return { src, dst };
}

const columns = {
  id: schedules.id,
  name: schedules.name,
  serverId: schedules.serverId,
  serverName: servers.name,
  cron: schedules.cron,
  timezone: schedules.timezone,
  encrypted: schedules.encrypted,
  encryption: schedules.encryption,
  enabled: schedules.enabled,
  nextRunAt: schedules.nextRunAt,
  retention: schedules.retention,
  verify: schedules.verify,
  compression: schedules.compression,
  verifySourceId: schedules.verifySourceId,
  staleGraceMinutes: schedules.staleGraceMinutes,
};

/** Schedules with what they back up, where to, in words, and their next runs. */
export async function listSchedules(t: TeamContext, filter: { scheduleId?: string } = {}) {
  const d = await db();
  const rows = await d
    .select(columns)
    .from(schedules)
    .innerJoin(servers, and(eq(servers.teamId, schedules.teamId), eq(servers.id, schedules.serverId)))
    .where(inTeam(schedules, t, filter.scheduleId ? eq(schedules.id, filter.scheduleId) : undefined))
    .orderBy(asc(schedules.name));
  const { src, dst } = await links(t);
  return rows.map((r) => ({
    ...r,
    when: describeCron(r.cron),
    keeps: describePolicy(r.retention),
    preset: cronToPreset(r.cron),
    // The slot it waits for (past while a run is overdue, after downtime), then the next ones: after
    // now once it is overdue, since the run that catches up moves the schedule past the slots missed.
    upcoming:
      r.enabled && r.nextRunAt
        ? [r.nextRunAt, ...nextRuns(r.cron, r.timezone, 2, new Date(Math.max(r.nextRunAt.getTime(), Date.now())))]
        : [],
    overdue: r.enabled && r.nextRunAt !== null && r.nextRunAt <= new Date(),
    sources: src.filter((s) => s.scheduleId === r.id).map(({ id, name }) => ({ id, name })),
    destinations: dst.filter((s) => s.scheduleId === r.id).map(({ id, name }) => ({ id, name })),
  }));
}
export type ScheduleView = Awaited<ReturnType<typeof listSchedules>>[number];

export async function getSchedule(t: TeamContext, scheduleId: string) {
  return requireRow((await listSchedules(t, { scheduleId }))[0], "That schedule");
}

/** Names of the schedules that use a source or a destination (deleting it is refused while any do). */
export async function schedulesUsing(
  t: TeamContext,
  ref: { sourceId: string } | { destinationId: string },
): Promise<string[]> {
  const d = await db();
  const link = "sourceId" in ref ? scheduleSources : scheduleDestinations;
  const condition =
    "sourceId" in ref
      ? eq(scheduleSources.sourceId, ref.sourceId)
      : eq(scheduleDestinations.destinationId, ref.destinationId);
  const rows = await d
    .select({ name: schedules.name })
    .from(link)
    .innerJoin(schedules, and(eq(schedules.teamId, link.teamId), eq(schedules.id, link.scheduleId)))
    .where(inTeam(link, t, condition));
  return rows.map((r) => r.name);
}

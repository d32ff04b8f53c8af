import "server-only";
import { and, asc, desc, eq, inArray, isNotNull, max } from "drizzle-orm";
import { backups, scheduleHealth, schedules, servers } from "@/db/schema";
import { db } from "../db";
import { inTeam, type TeamContext } from "../teams/context";
import { staleAfterMs } from "./interval";

/**
 * The Overview's health panel: every schedule with its state — failing (its latest run failed),
 * stale (see stale.ts), paused or ok — problems first; then every server with its last good and
 * last verified backup.
 */
export async function teamHealth(t: TeamContext, now = new Date()) {
  const d = await db();
  const [rows, latest, successes, serverRows] = await Promise.all([
    d
      .select({
        id: schedules.id,
        name: schedules.name,
        serverName: servers.name,
        enabled: schedules.enabled,
        cron: schedules.cron,
        timezone: schedules.timezone,
        staleGraceMinutes: schedules.staleGraceMinutes,
        staleSince: scheduleHealth.staleSince,
      })
      .from(schedules)
      .innerJoin(servers, and(eq(servers.teamId, schedules.teamId), eq(servers.id, schedules.serverId)))
      .leftJoin(scheduleHealth, eq(scheduleHealth.scheduleId, schedules.id))
      .where(inTeam(schedules, t))
      .orderBy(asc(schedules.name)),
    d
      .selectDistinctOn([backups.scheduleId], {
        scheduleId: backups.scheduleId,
        status: backups.status,
        error: backups.error,
      })
      .from(backups)
      .where(
        inTeam(backups, t, isNotNull(backups.scheduleId), inArray(backups.status, ["succeeded", "failed", "expired"])),
      )
      .orderBy(backups.scheduleId, desc(backups.createdAt)),
    d
      .select({ scheduleId: backups.scheduleId, at: max(backups.finishedAt) })
      .from(backups)
      .where(inTeam(backups, t, isNotNull(backups.scheduleId), inArray(backups.status, ["succeeded", "expired"])))
      .groupBy(backups.scheduleId),
    d
      .select({
        id: servers.id,
        name: servers.name,
        lastGood: max(backups.finishedAt),
        lastVerified: max(backups.verifiedAt),
      })
      .from(servers)
      .leftJoin(
        backups,
        and(
          eq(backups.teamId, servers.teamId),
          eq(backups.serverId, servers.id),
          inArray(backups.status, ["succeeded", "expired"]),
        ),
      )
      .where(inTeam(servers, t))
      .groupBy(servers.id, servers.name)
      .orderBy(asc(servers.name)),
  ]);
  const lastRun = new Map(latest.map((l) => [l.scheduleId, l]));
  const lastSuccess = new Map(successes.map((s) => [s.scheduleId, s.at ? new Date(s.at) : null]));
  const rank = { failing: 0, stale: 1, ok: 2, paused: 3 } as const;
  const scheduleHealthRows = rows
    .map((r) => {
      const run = lastRun.get(r.id);
      const state: keyof typeof rank = !r.enabled
        ? "paused"
        : run?.status === "failed"
          ? "failing"
          : r.staleSince
            ? "stale"
            : "ok";
      return {
        id: r.id,
        name: r.name,
        serverName: r.serverName,
        state,
        error: state === "failing" ? (run?.error ?? null) : null,
        lastSuccessAt: lastSuccess.get(r.id) ?? null,
        staleSince: r.staleSince,
        staleAfterMs: staleAfterMs(r, now),
      };
    })
    .sort((a, b) => rank[a.state] - rank[b.state]);
  return {
    schedules: scheduleHealthRows,
    servers: serverRows.map((s) => ({
      ...s,
      lastGood: s.lastGood ? new Date(s.lastGood) : null,
      lastVerified: s.lastVerified ? new Date(s.lastVerified) : null,
    })),
  };
}
export type TeamHealth = Awaited<ReturnType<typeof teamHealth>>;

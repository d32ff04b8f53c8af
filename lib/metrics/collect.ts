import "server-only";
import { and, count, desc, eq, inArray, isNotNull, max, sql, sum, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import {
  backupLocations,
  backupStatusEnum,
  backups,
  backupSources,
  notificationChannels,
  notificationDeliveries,
  restores,
  scheduleHealth,
  schedules,
  servers,
  sources,
  storageDestinations,
  teams,
} from "@/db/schema";
import { db } from "../db";
import { staleAfterMs } from "../health/interval";
import { priceOf } from "../retention/prices";

/** One sample: a metric's labels and value (timestamps in seconds since the epoch). */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}
export type Samples = Record<string, Sample[]>;

const seconds = (d: Date | string | null) => (d === null ? null : new Date(d).getTime() / 1000);
const GB = 1e9;
const successful = inArray(backups.status, ["succeeded", "expired"]);

/**
 * The figures behind every metric, for one team (`teamId`) or for every team (undefined: the
 * operators' endpoint, which adds a `team` label; hence …AllTeams). Labels are names and ids of schedules, servers,
 * sources and destinations — bounded by what a team configured, never one per backup.
 */
export async function samplesAllTeams(teamId: string | undefined): Promise<Samples> {
  const d = await db();
  const inScope = (column: PgColumn): SQL | undefined => (teamId ? eq(column, teamId) : undefined);
  const slugs = new Map(
    (await d.select({ id: teams.id, slug: teams.slug }).from(teams).where(inScope(teams.id))).map((t) => [
      t.id,
      t.slug,
    ]),
  );
  const team = (id: string): Record<string, string> => (teamId ? {} : { team: slugs.get(id) ?? id });
  const out: Samples = {};
  const index = new Map<string, Sample>();
  // Samples with the same name and labels add up (deliveries queued for several channel kinds).
  const add: Add = (name, labels, value) => {
    if (value === null || !Number.isFinite(value)) return;
    const key = `${name}${JSON.stringify(labels)}`;
    const seen = index.get(key);
    if (seen) seen.value += value;
    else {
      const sample = { labels, value };
      index.set(key, sample);
      (out[name] ??= []).push(sample);
    }
  };
  // Counts that are zero are still series, so a dashboard or rule sees 0 rather than nothing.
  for (const id of slugs.keys()) {
    for (const status of backupStatusEnum.enumValues) add("coffer_backups", { ...team(id), status }, 0);
    for (const workflow of ["backup", "restore", "verification"])
      for (const state of ["queued", "running"]) add("coffer_workflows", { ...team(id), workflow, state }, 0);
    // A delivery being sent is a pending row under a lease, not told apart from one waiting: queued only.
    add("coffer_workflows", { ...team(id), workflow: "delivery", state: "queued" }, 0);
  }

  const [scheduleRows, lastSuccess, lastFailure, lastVerified, lastVerificationFailure] = await Promise.all([
    d
      .select({
        id: schedules.id,
        teamId: schedules.teamId,
        name: schedules.name,
        server: servers.name,
        cron: schedules.cron,
        timezone: schedules.timezone,
        staleGraceMinutes: schedules.staleGraceMinutes,
        staleSince: scheduleHealth.staleSince,
        createdAt: schedules.createdAt,
        known: scheduleHealth.scheduleId,
        watchedSince: scheduleHealth.watchedSince,
      })
      .from(schedules)
      .innerJoin(servers, and(eq(servers.teamId, schedules.teamId), eq(servers.id, schedules.serverId)))
      .leftJoin(scheduleHealth, eq(scheduleHealth.scheduleId, schedules.id))
      .where(and(inScope(schedules.teamId), eq(schedules.enabled, true))),
    d
      .selectDistinctOn([backups.scheduleId], {
        scheduleId: backups.scheduleId,
        finishedAt: backups.finishedAt,
        startedAt: backups.startedAt,
        sizeBytes: backups.sizeBytes,
      })
      .from(backups)
      .where(and(inScope(backups.teamId), isNotNull(backups.scheduleId), successful))
      .orderBy(backups.scheduleId, desc(backups.finishedAt)),
    d
      .select({ scheduleId: backups.scheduleId, at: max(backups.finishedAt) })
      .from(backups)
      .where(and(inScope(backups.teamId), isNotNull(backups.scheduleId), eq(backups.status, "failed")))
      .groupBy(backups.scheduleId),
    d
      .select({ scheduleId: backups.scheduleId, at: max(backups.verifiedAt) })
      .from(backups)
      .where(and(inScope(backups.teamId), isNotNull(backups.scheduleId), isNotNull(backups.verifiedAt)))
      .groupBy(backups.scheduleId),
    d
      .select({ scheduleId: backups.scheduleId, at: max(restores.finishedAt) })
      .from(restores)
      .innerJoin(backups, and(eq(backups.teamId, restores.teamId), eq(backups.id, restores.backupId)))
      .where(
        and(
          inScope(restores.teamId),
          eq(restores.kind, "verify"),
          eq(restores.status, "failed"),
          isNotNull(backups.scheduleId),
        ),
      )
      .groupBy(backups.scheduleId),
  ]);
  const success = new Map(lastSuccess.map((r) => [r.scheduleId, r]));
  const failure = new Map(lastFailure.map((r) => [r.scheduleId, r.at]));
  const verified = new Map(lastVerified.map((r) => [r.scheduleId, r.at]));
  const verificationFailed = new Map(lastVerificationFailure.map((r) => [r.scheduleId, r.at]));
  const now = new Date();
  for (const s of scheduleRows) {
    const labels = { ...team(s.teamId), schedule: s.name, schedule_id: s.id, server: s.server };
    const ok = success.get(s.id);
    add("coffer_schedule_last_success_timestamp_seconds", labels, seconds(ok?.finishedAt ?? null));
    add("coffer_schedule_last_size_bytes", labels, ok?.sizeBytes ?? null);
    add(
      "coffer_schedule_last_duration_seconds",
      labels,
      ok?.startedAt && ok.finishedAt ? (ok.finishedAt.getTime() - ok.startedAt.getTime()) / 1000 : null,
    );
    add("coffer_schedule_last_failure_timestamp_seconds", labels, seconds(failure.get(s.id) ?? null));
    add("coffer_schedule_last_verified_timestamp_seconds", labels, seconds(verified.get(s.id) ?? null));
    add(
      "coffer_schedule_last_verification_failure_timestamp_seconds",
      labels,
      seconds(verificationFailed.get(s.id) ?? null),
    );
    add("coffer_schedule_stale", labels, s.staleSince ? 1 : 0);
    add("coffer_schedule_stale_after_seconds", labels, staleAfterMs(s, now) / 1000);
    // As stale detection counts it: since its creation, or since it was resumed (detection records that on its next pass).
    add(
      "coffer_schedule_watched_since_timestamp_seconds",
      labels,
      seconds(s.watchedSince ?? (s.known ? now : s.createdAt)),
    );
  }

  const [serverRows, sourceRows, byStatus] = await Promise.all([
    d
      .select({
        id: servers.id,
        teamId: servers.teamId,
        name: servers.name,
        lastSuccess: max(backups.finishedAt),
        lastVerified: max(backups.verifiedAt),
      })
      .from(servers)
      .leftJoin(backups, and(eq(backups.teamId, servers.teamId), eq(backups.serverId, servers.id), successful))
      .where(inScope(servers.teamId))
      .groupBy(servers.id, servers.teamId, servers.name),
    d
      .select({
        id: sources.id,
        teamId: sources.teamId,
        name: sources.name,
        server: servers.name,
        lastSuccess: max(backups.finishedAt),
      })
      .from(sources)
      .innerJoin(servers, and(eq(servers.teamId, sources.teamId), eq(servers.id, sources.serverId)))
      .leftJoin(
        backups,
        and(
          eq(backups.teamId, sources.teamId),
          successful,
          sql`exists (select 1 from ${backupSources} where ${backupSources.teamId} = ${backups.teamId} and ${backupSources.backupId} = ${backups.id} and ${backupSources.sourceId} = ${sources.id})`,
        ),
      )
      .where(inScope(sources.teamId))
      .groupBy(sources.id, sources.teamId, sources.name, servers.name),
    d
      .select({ teamId: backups.teamId, status: backups.status, n: count() })
      .from(backups)
      .where(inScope(backups.teamId))
      .groupBy(backups.teamId, backups.status),
  ]);
  for (const s of serverRows) {
    const labels = { ...team(s.teamId), server: s.name, server_id: s.id };
    add("coffer_server_last_success_timestamp_seconds", labels, seconds(s.lastSuccess));
    add("coffer_server_last_verified_timestamp_seconds", labels, seconds(s.lastVerified));
  }
  for (const s of sourceRows)
    add(
      "coffer_source_last_success_timestamp_seconds",
      { ...team(s.teamId), server: s.server, source: s.name, source_id: s.id },
      seconds(s.lastSuccess),
    );
  for (const r of byStatus) add("coffer_backups", { ...team(r.teamId), status: r.status }, r.n);

  await storageAllTeams(d, inScope, team, add);
  await workAllTeams(d, inScope, team, add);
  return out;
}

type Add = (name: string, labels: Record<string, string>, value: number | null) => void;
type Db = Awaited<ReturnType<typeof db>>;

async function storageAllTeams(
  d: Db,
  inScope: (c: PgColumn) => SQL | undefined,
  team: (id: string) => Record<string, string>,
  add: Add,
) {
  const rows = await d
    .select({
      teamId: storageDestinations.teamId,
      id: storageDestinations.id,
      name: storageDestinations.name,
      kind: storageDestinations.kind,
      prices: storageDestinations.prices,
      storageClass: backupLocations.storageClass,
      bytes: sum(backupLocations.sizeBytes).mapWith(Number),
      objects: count(),
    })
    .from(backupLocations)
    .innerJoin(
      storageDestinations,
      and(
        eq(storageDestinations.teamId, backupLocations.teamId),
        eq(storageDestinations.id, backupLocations.destinationId),
      ),
    )
    .where(and(inScope(backupLocations.teamId), eq(backupLocations.status, "stored")))
    .groupBy(
      storageDestinations.teamId,
      storageDestinations.id,
      storageDestinations.name,
      storageDestinations.kind,
      storageDestinations.prices,
      backupLocations.storageClass,
    );
  for (const r of rows) {
    const labels = { ...team(r.teamId), destination: r.name, destination_id: r.id, class: r.storageClass ?? "" };
    add("coffer_stored_bytes", labels, r.bytes);
    add("coffer_stored_objects", labels, r.objects);
    add("coffer_storage_monthly_cost_usd", labels, (r.bytes / GB) * priceOf(r.kind, r.storageClass, r.prices));
  }
}

// "disabled": by Coffer, after failing (lib/webhooks/health.ts); "off": turned off by someone (which ends its failing).
const channelState = sql<string>`case when not ${notificationChannels.enabled} and ${notificationChannels.failingSince} is not null then 'disabled' when not ${notificationChannels.enabled} then 'off' when ${notificationChannels.failingSince} is not null then 'failing' else 'ok' end`;

async function workAllTeams(
  d: Db,
  inScope: (c: PgColumn) => SQL | undefined,
  team: (id: string) => Record<string, string>,
  add: Add,
) {
  const [backupJobs, restoreJobs, deliveries, channels] = await Promise.all([
    d
      .select({ teamId: backups.teamId, status: backups.status, n: count() })
      .from(backups)
      .where(and(inScope(backups.teamId), inArray(backups.status, ["queued", "running"])))
      .groupBy(backups.teamId, backups.status),
    d
      .select({ teamId: restores.teamId, kind: restores.kind, status: restores.status, n: count() })
      .from(restores)
      .where(and(inScope(restores.teamId), inArray(restores.status, ["queued", "running"])))
      .groupBy(restores.teamId, restores.kind, restores.status),
    d
      .select({
        teamId: notificationDeliveries.teamId,
        kind: notificationChannels.kind,
        status: notificationDeliveries.status,
        n: count(),
      })
      .from(notificationDeliveries)
      .innerJoin(
        notificationChannels,
        and(
          eq(notificationChannels.teamId, notificationDeliveries.teamId),
          eq(notificationChannels.id, notificationDeliveries.channelId),
        ),
      )
      .where(inScope(notificationDeliveries.teamId))
      .groupBy(notificationDeliveries.teamId, notificationChannels.kind, notificationDeliveries.status),
    d
      .select({
        teamId: notificationChannels.teamId,
        kind: notificationChannels.kind,
        state: channelState,
        n: count(),
      })
      .from(notificationChannels)
      .where(inScope(notificationChannels.teamId))
      .groupBy(notificationChannels.teamId, notificationChannels.kind, channelState),
  ]);
  for (const r of backupJobs) add("coffer_workflows", { ...team(r.teamId), workflow: "backup", state: r.status }, r.n);
  for (const r of restoreJobs)
    add(
      "coffer_workflows",
      { ...team(r.teamId), workflow: r.kind === "verify" ? "verification" : "restore", state: r.status },
      r.n,
    );
  for (const r of deliveries) {
    if (r.status === "pending")
      add("coffer_workflows", { ...team(r.teamId), workflow: "delivery", state: "queued" }, r.n);
    add("coffer_notification_deliveries", { ...team(r.teamId), kind: r.kind, outcome: r.status }, r.n);
  }
  for (const r of channels)
    add("coffer_notification_channels", { ...team(r.teamId), kind: r.kind, state: r.state }, r.n);
}

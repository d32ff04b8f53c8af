import "server-only";
import { and, eq, inArray } from "drizzle-orm";
import { backups, restores, schedules, servers, storageDestinations } from "@/db/schema";
import { backupDestinationIds } from "../backups/links";
import { db } from "../db";
import { env } from "../env";
import { asAppError } from "../errors";
import { inTeam, type TeamContext } from "../teams/context";
import type { EventData, EventType, Ref } from "./catalogue";
import { scrubError } from "./scrub";
import { formatCount } from "../format";

/** What each event is about, as its producer knows it: ids, and what only the producer knows. */
export interface Subjects {
  "backup.succeeded": { backupId: string };
  "backup.failed": { backupId: string };
  "backup.stale": { scheduleId: string; staleSince: Date; lastSuccessAt: Date | null; staleAfterSeconds: number };
  "backup.recovered": { scheduleId: string; staleSince: Date; backupId: string };
  "verification.succeeded": { restoreId: string };
  "verification.failed": { restoreId: string };
  "restore.succeeded": { restoreId: string };
  "restore.failed": { restoreId: string };
  "retention.applied": {
    scope: { scheduleId: string } | { serverId: string };
    /** Moved to the trash by this run: restorable until the team's days in the trash are over. */
    trashed: { id: string; startedAt: Date | null }[];
    /** Out of the trash for good: their copies deleted (or, where that failed, in `problems`). */
    expired: { id: string; startedAt: Date | null }[];
    moved: { destinationId: string; from: string | null; to: string }[];
    problems: number;
  };
  /** `error` is what the destination's write failed with (only an AppError's message leaves Coffer). */
  "destination.failing": { backupId: string; destinationId: string; error: unknown };
}

/** A link into the app for this team: `/backups/bkp_…` → https://coffer.example.com/acme/backups/bkp_…. */
export const appLink = (t: TeamContext, path: string) => `${env().APP_URL.replace(/\/+$/, "")}/${t.slug}${path}`;

const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;
const seconds = (from: Date | null, to: Date | null) =>
  from && to ? Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000)) : null;

async function serverRef(t: TeamContext, serverId: string): Promise<Ref> {
  const d = await db();
  const [s] = await d
    .select({ id: servers.id, name: servers.name })
    .from(servers)
    .where(inTeam(servers, t, eq(servers.id, serverId)));
  return s ?? { id: serverId, name: "(deleted server)" };
}

async function scheduleRef(t: TeamContext, scheduleId: string | null): Promise<Ref | null> {
  if (!scheduleId) return null;
  const d = await db();
  const [s] = await d
    .select({ id: schedules.id, name: schedules.name, serverId: schedules.serverId })
    .from(schedules)
    .where(inTeam(schedules, t, eq(schedules.id, scheduleId)));
  return s ? { id: s.id, name: s.name } : null;
}

async function destinationRefs(t: TeamContext, ids: string[]) {
  if (!ids.length) return [];
  const d = await db();
  return d
    .select({ id: storageDestinations.id, name: storageDestinations.name, kind: storageDestinations.kind })
    .from(storageDestinations)
    .where(inTeam(storageDestinations, t, inArray(storageDestinations.id, ids)));
}

async function backupData(t: TeamContext, s: { backupId: string }): Promise<EventData["backup.failed"] | null> {
  const d = await db();
  const [row] = await d
    .select({ b: backups, destinationIds: backupDestinationIds })
    .from(backups)
    .where(inTeam(backups, t, eq(backups.id, s.backupId)));
  if (!row) return null;
  const { b } = row;
  const dests = await destinationRefs(t, row.destinationIds);
  return {
    backup: {
      id: b.id,
      status: b.status === "succeeded" ? "succeeded" : "failed",
      trigger: b.trigger,
      encrypted: b.encrypted,
      startedAt: iso(b.startedAt),
      finishedAt: iso(b.finishedAt),
      durationSeconds: seconds(b.startedAt, b.finishedAt),
      sizeBytes: b.sizeBytes,
      error: scrubError(b.error),
      url: appLink(t, `/backups/${b.id}`),
    },
    server: await serverRef(t, b.serverId),
    schedule: await scheduleRef(t, b.scheduleId),
    destinations: dests.map(({ id, name }) => ({ id, name })),
  };
}

async function restoreRow(t: TeamContext, restoreId: string) {
  const d = await db();
  const [row] = await d
    .select({ job: restores, backupStartedAt: backups.startedAt, scheduleId: backups.scheduleId })
    .from(restores)
    .innerJoin(backups, and(eq(backups.teamId, restores.teamId), eq(backups.id, restores.backupId)))
    .where(inTeam(restores, t, eq(restores.id, restoreId)));
  return row;
}

async function verificationData(t: TeamContext, s: { restoreId: string }) {
  const row = await restoreRow(t, s.restoreId);
  if (!row) return null;
  const { job } = row;
  const differences = job.result?.differences.length ?? 0;
  const url = appLink(t, `/backups/${job.backupId}/restore`);
  return {
    verification: {
      id: job.id,
      status: job.status === "succeeded" ? "succeeded" : "failed",
      startedAt: iso(job.startedAt),
      finishedAt: iso(job.finishedAt),
      durationSeconds: seconds(job.startedAt, job.finishedAt),
      tables: job.result?.tables ?? 0,
      files: job.result?.files ?? 0,
      differences,
      // Differences name tables and files from inside the backup: only their number leaves Coffer.
      error: differences
        ? `Verification found ${formatCount(differences, "difference")} from the manifest; the verification's page lists them.`
        : scrubError(job.error),
      url,
    },
    backup: { id: job.backupId, startedAt: iso(row.backupStartedAt), url: appLink(t, `/backups/${job.backupId}`) },
    server: await serverRef(t, job.serverId),
    schedule: await scheduleRef(t, row.scheduleId),
  } satisfies EventData["verification.failed"];
}

async function restoreData(t: TeamContext, s: { restoreId: string }) {
  const row = await restoreRow(t, s.restoreId);
  if (!row) return null;
  const { job } = row;
  return {
    restore: {
      id: job.id,
      kind: job.kind === "directory" ? "directory" : "database",
      mode: job.mode,
      status: job.status === "succeeded" ? "succeeded" : "failed",
      target: job.kind === "directory" ? job.targetPath : job.targetDatabase,
      startedAt: iso(job.startedAt),
      finishedAt: iso(job.finishedAt),
      durationSeconds: seconds(job.startedAt, job.finishedAt),
      error: scrubError(job.error),
      url: appLink(t, `/backups/${job.backupId}/restore`),
    },
    backup: { id: job.backupId, startedAt: iso(row.backupStartedAt), url: appLink(t, `/backups/${job.backupId}`) },
    server: await serverRef(t, job.serverId),
  } satisfies EventData["restore.failed"];
}

async function staleData(t: TeamContext, s: Subjects["backup.stale"]): Promise<EventData["backup.stale"] | null> {
  const d = await db();
  const [row] = await d
    .select({ id: schedules.id, name: schedules.name, serverId: schedules.serverId })
    .from(schedules)
    .where(inTeam(schedules, t, eq(schedules.id, s.scheduleId)));
  if (!row) return null;
  return {
    schedule: { id: row.id, name: row.name, url: appLink(t, "/schedules") },
    server: await serverRef(t, row.serverId),
    lastSuccessAt: iso(s.lastSuccessAt),
    staleSince: s.staleSince.toISOString(),
    staleAfterSeconds: s.staleAfterSeconds,
  };
}

async function recoveredData(t: TeamContext, s: Subjects["backup.recovered"]) {
  const d = await db();
  const [row] = await d
    .select({ id: schedules.id, name: schedules.name, serverId: schedules.serverId })
    .from(schedules)
    .where(inTeam(schedules, t, eq(schedules.id, s.scheduleId)));
  const [b] = await d
    .select({ id: backups.id, finishedAt: backups.finishedAt, sizeBytes: backups.sizeBytes })
    .from(backups)
    .where(inTeam(backups, t, eq(backups.id, s.backupId)));
  if (!row || !b) return null;
  return {
    schedule: { id: row.id, name: row.name, url: appLink(t, "/schedules") },
    server: await serverRef(t, row.serverId),
    staleSince: s.staleSince.toISOString(),
    backup: { id: b.id, finishedAt: iso(b.finishedAt), sizeBytes: b.sizeBytes, url: appLink(t, `/backups/${b.id}`) },
  } satisfies EventData["backup.recovered"];
}

async function retentionData(
  t: TeamContext,
  s: Subjects["retention.applied"],
): Promise<EventData["retention.applied"] | null> {
  if (!s.trashed.length && !s.expired.length && !s.moved.length && !s.problems) return null; // a run that changed nothing says nothing
  const schedule = "scheduleId" in s.scope ? await scheduleRef(t, s.scope.scheduleId) : null;
  const server = "serverId" in s.scope ? await serverRef(t, s.scope.serverId) : null;
  const dests = new Map(
    (await destinationRefs(t, [...new Set(s.moved.map((m) => m.destinationId))])).map((x) => [x.id, x]),
  );
  const changes = new Map<string, EventData["retention.applied"]["moved"]["changes"][number]>();
  for (const m of s.moved) {
    const key = `${m.destinationId}\0${m.from}\0${m.to}`;
    const dest = dests.get(m.destinationId);
    const entry = changes.get(key) ?? {
      destination: { id: m.destinationId, name: dest?.name ?? "(deleted destination)" },
      from: m.from,
      to: m.to,
      count: 0,
    };
    entry.count++;
    changes.set(key, entry);
  }
  return {
    schedule,
    server,
    // At most 100 listed each: a first run over a long history can trash many.
    trashed: listed(s.trashed),
    expired: listed(s.expired),
    moved: { count: s.moved.length, changes: [...changes.values()] },
    problems: s.problems,
    url: appLink(t, "/backups"),
  };
}

const listed = (xs: Subjects["retention.applied"]["trashed"]) => ({
  count: xs.length,
  backups: xs.slice(0, 100).map((x) => ({ id: x.id, startedAt: iso(x.startedAt) })),
});

async function destinationData(t: TeamContext, s: Subjects["destination.failing"]) {
  const [dest] = await destinationRefs(t, [s.destinationId]);
  const d = await db();
  const [b] = await d
    .select({ serverId: backups.serverId })
    .from(backups)
    .where(inTeam(backups, t, eq(backups.id, s.backupId)));
  if (!dest || !b) return null;
  return {
    destination: dest,
    backup: { id: s.backupId, url: appLink(t, `/backups/${s.backupId}`) },
    server: await serverRef(t, b.serverId),
    error: scrubError(
      asAppError(s.error)?.message ?? "The destination refused the write (details are in Coffer's server log).",
    ),
    url: appLink(t, "/storage"),
  } satisfies EventData["destination.failing"];
}

type Builders = { [K in EventType]: (t: TeamContext, s: Subjects[K]) => Promise<EventData[K] | null> };

/** Reads what an event says about its subject; null when the subject is gone. */
export const buildData: Builders = {
  "backup.succeeded": backupData,
  "backup.failed": backupData,
  "backup.stale": staleData,
  "backup.recovered": recoveredData,
  "verification.succeeded": verificationData,
  "verification.failed": verificationData,
  "restore.succeeded": restoreData,
  "restore.failed": restoreData,
  "retention.applied": retentionData,
  "destination.failing": destinationData,
};

/** Producing the same event twice (a retried step, a second failure handler) keeps the first. */
export function dedupeKey<T extends EventType>(type: T, s: Subjects[T]): string | null {
  const v = s as Partial<Record<string, unknown>>;
  if (type === "retention.applied") return null;
  if (type === "backup.stale" || type === "backup.recovered")
    return `${type}:${String(v.scheduleId)}:${(v.staleSince as Date).toISOString()}`;
  if (type === "destination.failing") return `${type}:${String(v.backupId)}:${String(v.destinationId)}`;
  return `${type}:${String(v.backupId ?? v.restoreId)}`;
}

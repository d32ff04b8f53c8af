import "server-only";
import { and, eq, inArray, isNull, ne, or, sql, type SQL } from "drizzle-orm";
import { backups, schedules, teams } from "@/db/schema";
import type { Database, Transaction } from "../db";
import { notFound } from "../errors";
import { inTeam, type TeamContext } from "../teams/context";
import { selectRetention, type Candidate, type Decision, type RetentionPolicy } from "./select";

/**
 * Which backups retention weighs against each other, and under which policy. A schedule's backups
 * are one group, in the schedule's time zone. Backups no schedule made follow the team's default
 * policy in UTC, one group per server and set of sources (a "Back up now" of one database never
 * pushes out another's), as its manifest records them: deleting a source does not move its
 * backups into another group. A server's uploads are one more group. Safety backups are in none:
 * taken before a restore replaced a database, often the only copy of what it replaced, they stay
 * until someone deletes them.
 *
 * A backup's time is its start: a run's data is as of then, and one server's runs never overlap.
 * An upload's start is only when its transfer began, so it counts from when it was stored: one
 * that started first but finished last is the newest.
 */

type Queryable = Database | Transaction;

/** Which backups a policy applies to: one schedule's, or one server's that no schedule made. */
export type RetentionScope = { scheduleId: string } | { serverId: string };

/** Every backup of a scope (its safety backups too), for a statement on `backups`. */
export function inScope(scope: RetentionScope): SQL {
  return "scheduleId" in scope
    ? eq(backups.scheduleId, scope.scheduleId)
    : and(eq(backups.serverId, scope.serverId), isNull(backups.scheduleId))!;
}

/**
 * The ids of the sources a backup holds, from its manifest: sorted, comma-separated. Read only
 * where they make the group (unscheduled, not uploads; with `scheduled`, a schedule's backups too,
 * for when it is deleted): a manifest lists every file, and reading one reads it whole.
 */
const manifestSourceIds = (scheduled: boolean) =>
  sql<string>`case when (${scheduled ? sql`true` : sql`${backups.scheduleId} is null`}) and ${backups.trigger} <> 'upload' then coalesce((select string_agg(src.id #>> '{}', ',' order by src.id #>> '{}') from jsonb_path_query(${backups.manifest}, '$.sources[*].id') as src(id)), '') else '' end`;

interface Row extends Candidate {
  scheduleId: string | null;
  serverId: string;
  trigger: string;
  sources: string;
  fileName: string;
}

interface Policies {
  team: RetentionPolicy;
  schedules: Map<string, { policy: RetentionPolicy; timeZone: string; name: string }>;
}

/** The succeeded backups matching `where` that retention decides about (not those an admin put back from the trash). */
async function candidates(q: Queryable, t: TeamContext, where: SQL, scheduledSources = false): Promise<Row[]> {
  const rows = await q
    .select({
      id: backups.id,
      scheduleId: backups.scheduleId,
      serverId: backups.serverId,
      trigger: backups.trigger,
      sources: manifestSourceIds(scheduledSources),
      createdAt: backups.createdAt,
      startedAt: backups.startedAt,
      finishedAt: backups.finishedAt,
      readingUntil: backups.readingUntil,
      verifiedAt: backups.verifiedAt,
      fileName: backups.fileName,
    })
    .from(backups)
    .where(
      inTeam(
        backups,
        t,
        where,
        eq(backups.status, "succeeded"),
        isNull(backups.pinnedAt),
        ne(backups.trigger, "safety"),
      ),
    );
  const now = Date.now();
  return rows.map(({ finishedAt, ...r }) => ({
    ...r,
    at: (r.trigger === "upload" ? finishedAt : null) ?? r.startedAt ?? r.createdAt,
    succeeded: true,
    verified: r.verifiedAt !== null,
    inUse: !!r.readingUntil && r.readingUntil.getTime() > now,
  }));
}

async function policiesOf(q: Queryable, t: TeamContext, scheduleIds: string[]): Promise<Policies> {
  const [team] = await q.select({ retention: teams.defaultRetention }).from(teams).where(eq(teams.id, t.id));
  const rows = scheduleIds.length
    ? await q
        .select({ id: schedules.id, policy: schedules.retention, timeZone: schedules.timezone, name: schedules.name })
        .from(schedules)
        .where(inTeam(schedules, t, inArray(schedules.id, scheduleIds)))
    : [];
  return { team: team!.retention, schedules: new Map(rows.map(({ id, ...s }) => [id, s])) };
}

function groupOf(b: Row): string {
  if (b.scheduleId) return `schedule ${b.scheduleId}`;
  return b.trigger === "upload" ? `${b.serverId} uploads` : `${b.serverId} sources ${b.sources}`;
}

/** Each group's decisions under its own policy, newest first. */
function decide(rows: Row[], p: Policies): Decision[] {
  const groups = new Map<string, Row[]>();
  for (const b of rows) {
    const group = groups.get(groupOf(b));
    if (group) group.push(b);
    else groups.set(groupOf(b), [b]);
  }
  const at = new Map(rows.map((b) => [b.id, b.at.getTime()]));
  return [...groups.values()]
    .flatMap((group) => {
      const s = group[0]!.scheduleId ? p.schedules.get(group[0]!.scheduleId)! : { policy: p.team, timeZone: "UTC" };
      return selectRetention(group, s.policy, s.timeZone);
    })
    .sort((a, b) => at.get(b.id)! - at.get(a.id)!);
}

export interface ScopeDecisions {
  policy: RetentionPolicy;
  /** Whose policy it is, for a trashed backup's reason: "schedule nightly", "the team's default policy". */
  label: string;
  decisions: (Decision & { fileName: string; at: Date })[];
}

/** What `policy` (absent: the scope's own) keeps and expires in a scope now; for a schedule, counting days in `timeZone` (absent: its own). */
export async function decideScope(
  q: Queryable,
  t: TeamContext,
  scope: RetentionScope,
  policy?: RetentionPolicy,
  timeZone?: string,
): Promise<ScopeDecisions> {
  const p = await policiesOf(q, t, "scheduleId" in scope ? [scope.scheduleId] : []);
  let label = "the team's default policy";
  if ("scheduleId" in scope) {
    const own = p.schedules.get(scope.scheduleId);
    if (!own) throw notFound("That schedule");
    if (policy) own.policy = policy;
    if (timeZone) own.timeZone = timeZone;
    label = `schedule ${own.name}`;
  } else if (policy) p.team = policy;
  const rows = await candidates(q, t, inScope(scope));
  const byId = new Map(rows.map((b) => [b.id, b]));
  return {
    policy: "scheduleId" in scope ? p.schedules.get(scope.scheduleId)!.policy : p.team,
    label,
    decisions: decide(rows, p).map((d) => ({ ...d, fileName: byId.get(d.id)!.fileName, at: byId.get(d.id)!.at })),
  };
}

/**
 * How many backups retention keeps now would go to the trash after a change to a schedule: another
 * policy or time zone, or deleting it (its backups then join their servers' unscheduled backups of
 * the same sources, under the team's default policy in UTC).
 */
export async function trashedByScheduleChange(
  q: Queryable,
  t: TeamContext,
  scheduleId: string,
  change: { policy: RetentionPolicy; timeZone: string } | "delete",
): Promise<number> {
  const itsServers = q
    .select({ id: backups.serverId })
    .from(backups)
    .where(inTeam(backups, t, eq(backups.scheduleId, scheduleId)));
  const rows = await candidates(
    q,
    t,
    change === "delete"
      ? or(eq(backups.scheduleId, scheduleId), and(isNull(backups.scheduleId), inArray(backups.serverId, itsServers)))!
      : eq(backups.scheduleId, scheduleId),
    change === "delete",
  );
  const now = await policiesOf(q, t, [scheduleId]);
  const keptNow = new Set(
    decide(rows, now)
      .filter((d) => d.keep)
      .map((d) => d.id),
  );
  const after =
    change === "delete"
      ? decide(
          rows.map((b) => (b.scheduleId === scheduleId ? { ...b, scheduleId: null } : b)),
          now,
        )
      : decide(rows, { ...now, schedules: new Map([[scheduleId, { ...now.schedules.get(scheduleId)!, ...change }]]) });
  return after.filter((d) => !d.keep && keptNow.has(d.id)).length;
}

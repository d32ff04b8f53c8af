import "server-only";
import { count, eq, inArray } from "drizzle-orm";
import {
  backups,
  scheduleDestinations,
  schedules,
  scheduleSources,
  servers,
  sources,
  storageDestinations,
  teams,
} from "@/db/schema";
import { newId } from "@/db/columns";
import { recordAudit } from "../audit/record";
import { db, pgCode, type Transaction } from "../db";
import { AppError, notFound } from "../errors";
import { assertVerificationConnection } from "../servers/queries";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import { watchAfresh } from "../health/stale";
import { trashedByScheduleChange } from "../retention/groups";
import { describePolicy, keepsLess, type RetentionPolicy } from "../retention/select";
import { roleAtLeast } from "../teams/roles";
import { teamRecipientKeys } from "../openpgp/team-keys";
import { describeCron, nextRun, presetToCron } from "./cron";
import type { CreateScheduleInput, UpdateScheduleInput } from "./schemas";
import { formatCount } from "../format";

/** The server, its sources and the destinations must all be this team's, and the sources that server's. */
async function checkRefs(tx: Transaction, t: TeamContext, input: CreateScheduleInput) {
  const [server] = await tx
    .select({ id: servers.id })
    .from(servers)
    .where(inTeam(servers, t, eq(servers.id, input.serverId)));
  if (!server) throw notFound("That server");
  const found = await tx
    .select({ id: sources.id })
    .from(sources)
    .where(inTeam(sources, t, eq(sources.serverId, input.serverId), inArray(sources.id, input.sourceIds)));
  if (found.length !== new Set(input.sourceIds).size)
    throw new AppError("VALIDATION", "Choose sources of the schedule's server.", {
      sourceIds: ["Every source must belong to the chosen server."],
    });
  const dests = await tx
    .select({ id: storageDestinations.id })
    .from(storageDestinations)
    .where(inTeam(storageDestinations, t, inArray(storageDestinations.id, input.destinationIds)));
  if (dests.length !== new Set(input.destinationIds).size) throw notFound("That destination");
  if (input.verifySourceId) await assertVerificationConnection(tx, t, input.verifySourceId);
}

function timing(input: CreateScheduleInput) {
  const cron = presetToCron(input.when);
  const next = nextRun(cron, input.timezone); // validates the expression and the zone
  if (!next)
    throw new AppError("VALIDATION", "That schedule never runs: no date matches it.", {
      "when.cron": ["No date matches this expression."],
    });
  return { cron, nextRunAt: input.enabled ? next : null };
}

async function writeLinks(tx: Transaction, t: TeamContext, scheduleId: string, input: CreateScheduleInput) {
  await tx.delete(scheduleSources).where(inTeam(scheduleSources, t, eq(scheduleSources.scheduleId, scheduleId)));
  await tx
    .delete(scheduleDestinations)
    .where(inTeam(scheduleDestinations, t, eq(scheduleDestinations.scheduleId, scheduleId)));
  await tx
    .insert(scheduleSources)
    .values([...new Set(input.sourceIds)].map((sourceId) => ({ teamId: t.id, scheduleId, sourceId })));
  await tx
    .insert(scheduleDestinations)
    .values([...new Set(input.destinationIds)].map((destinationId) => ({ teamId: t.id, scheduleId, destinationId })));
}

const nameTaken = (err: unknown): never => {
  if (pgCode(err) === "23505")
    throw new AppError("CONFLICT", "A schedule with that name already exists; choose another name.", {
      name: ["Already in use."],
    });
  throw err;
};

const graceMinutes = (input: CreateScheduleInput) =>
  input.staleGraceHours === undefined ? null : Math.round(input.staleGraceHours * 60);

export async function createSchedule(t: TeamContext, input: CreateScheduleInput) {
  assertRole(t, "member");
  const id = newId("sch");
  const { cron, nextRunAt } = timing(input);
  if (input.encrypted && input.encryption === "openpgp") await teamRecipientKeys(t); // refuses when the team has none
  const d = await db();
  await d
    .transaction(async (tx) => {
      await checkRefs(tx, t, input);
      await tx.insert(schedules).values({
        id,
        teamId: t.id,
        serverId: input.serverId,
        name: input.name,
        cron,
        timezone: input.timezone,
        encrypted: input.encrypted,
        encryption: input.encryption ?? "coffer",
        enabled: input.enabled,
        nextRunAt,
        retention: input.retention,
        verify: input.verify,
        compression: input.compression ?? "fast",
        verifySourceId: input.verifySourceId ?? null,
        staleGraceMinutes: graceMinutes(input),
      });
      await writeLinks(tx, t, id, input);
      await recordAudit(tx, t, {
        action: "schedule.created",
        target: { type: "schedule", id, label: input.name },
        details: {
          when: describeCron(cron),
          timezone: input.timezone,
          encrypted: input.encrypted,
          encryption: input.encryption ?? "coffer",
          compression: input.compression ?? "fast",
          retention: describePolicy(input.retention),
        },
      });
    })
    .catch(nameTaken);
  return { id };
}

/**
 * Members may edit a schedule, but removing backups takes an admin: a policy that keeps fewer (now
 * or later), and any change after which retention would trash a backup it keeps now (days counted
 * in another time zone, backups joining other ones), whatever the counts.
 */
const mayRemoveBackups = (t: TeamContext) => t.role === "system" || roleAtLeast(t.role, "admin");

function assertMayShorten(current: RetentionPolicy, next: RetentionPolicy, message: string) {
  if (keepsLess(current, next))
    throw new AppError("FORBIDDEN", message, { retention: ["Only admins can shorten retention."] });
}

/**
 * A schedule's backups, let go of (deleted schedule, another server or other sources), follow the
 * team's default policy as unscheduled backups of their server: when retention would then trash
 * some it keeps now, or that policy keeps fewer and some are stored, that takes an admin. Returns
 * how many succeeded backups are let go of.
 */
async function assertMayLetGo(
  tx: Transaction,
  t: TeamContext,
  scheduleId: string,
  policy: RetentionPolicy,
  lead: (backups: string) => string,
  instead: string,
  doing = "this change",
): Promise<number> {
  const [stored] = await tx
    .select({ n: count() })
    .from(backups)
    .where(inTeam(backups, t, eq(backups.scheduleId, scheduleId), eq(backups.status, "succeeded")));
  if (mayRemoveBackups(t) || !stored!.n) return stored!.n;
  const trashed = await trashedByScheduleChange(tx, t, scheduleId, "delete");
  if (trashed)
    throw new AppError(
      "FORBIDDEN",
      `${lead("backups")} the team's default policy (days in UTC, together with the server's other backups of the same sources), which would move ${formatCount(trashed, "backup")} that retention keeps now to the trash: ${doing} needs an admin. ${instead}`,
    );
  const [team] = await tx.select({ policy: teams.defaultRetention }).from(teams).where(eq(teams.id, t.id));
  assertMayShorten(
    policy,
    team!.policy,
    `${lead(formatCount(stored!.n, "backup"))} the team's default policy, which ${describePolicy(team!.policy)} and so removes some: ${doing} needs an admin. ${instead}`,
  );
  return stored!.n;
}

export async function updateSchedule(t: TeamContext, input: UpdateScheduleInput) {
  assertRole(t, "member");
  const { cron, nextRunAt } = timing(input);
  if (input.encrypted && input.encryption === "openpgp") await teamRecipientKeys(t); // refuses when the team has none
  const d = await db();
  await d
    .transaction(async (tx) => {
      await checkRefs(tx, t, input);
      const [current] = await tx
        .select({
          serverId: schedules.serverId,
          retention: schedules.retention,
          timezone: schedules.timezone,
          cron: schedules.cron,
          enabled: schedules.enabled,
          nextRunAt: schedules.nextRunAt,
        })
        .from(schedules)
        .where(inTeam(schedules, t, eq(schedules.id, input.scheduleId)))
        .for("update");
      if (!current) throw notFound("That schedule");
      // Retention weighs a schedule's backups against each other: once it backs up another server or
      // leaves out a source, what it made before would be pushed out by backups of something else.
      // Those are let go of, as when the schedule is deleted. An added source is no such change:
      // the new backups still hold everything the earlier ones did.
      const linked = await tx
        .select({ id: scheduleSources.sourceId })
        .from(scheduleSources)
        .where(inTeam(scheduleSources, t, eq(scheduleSources.scheduleId, input.scheduleId)));
      const newSources = new Set(input.sourceIds);
      const lettingGo = current.serverId !== input.serverId || linked.some((l) => !newSources.has(l.id));
      // An edit keeps the slot the schedule is waiting for while its times stay the same, and a slot
      // already due in any case (the run after downtime, or in the seconds before the next check):
      // computed afresh from now, an edit of its name dropped that run without a word.
      const keepSlot =
        input.enabled &&
        current.enabled &&
        current.nextRunAt !== null &&
        (current.nextRunAt <= new Date() || (current.cron === cron && current.timezone === input.timezone));
      const letGo = lettingGo
        ? await assertMayLetGo(
            tx,
            t,
            input.scheduleId,
            current.retention,
            (b) => `Backing up another server, or leaving out a source, leaves this schedule's ${b} to follow`,
            "Ask an admin, or create a new schedule for the new server or sources.",
          )
        : 0;
      if (!lettingGo && !mayRemoveBackups(t)) {
        const trashed = await trashedByScheduleChange(tx, t, input.scheduleId, {
          policy: input.retention,
          timeZone: input.timezone,
        });
        if (trashed) {
          const zone = input.timezone !== current.timezone;
          const [change, keep] = zone
            ? [`Counting days in ${input.timezone} instead of ${current.timezone}`, `time zone (${current.timezone})`]
            : ["This policy", `policy (${describePolicy(current.retention)})`];
          throw new AppError(
            "FORBIDDEN",
            `${change} would move ${formatCount(trashed, "backup")} that retention keeps now to the trash, so it needs an admin. Ask an admin, or keep the current ${keep}.`,
            {
              [zone ? "timezone" : "retention"]: [
                `Only an admin can: ${formatCount(trashed, "backup")} would go to the trash.`,
              ],
            },
          );
        }
        assertMayShorten(
          current.retention,
          input.retention,
          `Keeping fewer backups removes some, so it needs an admin. Ask an admin, or keep the current policy (${describePolicy(current.retention)}).`,
        );
      }
      const [row] = await tx
        .update(schedules)
        .set({
          serverId: input.serverId,
          name: input.name,
          cron,
          timezone: input.timezone,
          encrypted: input.encrypted,
          encryption: input.encryption ?? "coffer",
          enabled: input.enabled,
          nextRunAt: keepSlot ? current.nextRunAt : nextRunAt,
          retention: input.retention,
          verify: input.verify,
          compression: input.compression ?? "fast",
          verifySourceId: input.verifySourceId ?? null,
          staleGraceMinutes: graceMinutes(input),
        })
        .where(inTeam(schedules, t, eq(schedules.id, input.scheduleId)))
        .returning({ id: schedules.id });
      if (!row) throw notFound("That schedule");
      if (lettingGo) {
        await tx
          .update(backups)
          .set({ scheduleId: null })
          .where(inTeam(backups, t, eq(backups.scheduleId, row.id)));
        await watchAfresh(tx, t, row.id); // its last success is not its own any more
      }
      await writeLinks(tx, t, row.id, input);
      await recordAudit(tx, t, {
        action: "schedule.updated",
        target: { type: "schedule", id: row.id, label: input.name },
        details: {
          ...(letGo ? { backupsLetGo: letGo } : {}),
          when: describeCron(cron),
          timezone: input.timezone,
          encrypted: input.encrypted,
          encryption: input.encryption ?? "coffer",
          enabled: input.enabled,
          compression: input.compression ?? "fast",
          retention: describePolicy(input.retention),
        },
      });
    })
    .catch(nameTaken);
  return { id: input.scheduleId };
}

/** Pausing clears the next slot; resuming picks the next one from now (missed slots are not caught up). */
export async function setScheduleEnabled(t: TeamContext, scheduleId: string, enabled: boolean) {
  assertRole(t, "member");
  const d = await db();
  await d.transaction(async (tx) => {
    const [s] = await tx
      .select({ cron: schedules.cron, timezone: schedules.timezone, name: schedules.name })
      .from(schedules)
      .where(inTeam(schedules, t, eq(schedules.id, scheduleId)))
      .for("update");
    if (!s) throw notFound("That schedule");
    await tx
      .update(schedules)
      .set({ enabled, nextRunAt: enabled ? nextRun(s.cron, s.timezone) : null })
      .where(inTeam(schedules, t, eq(schedules.id, scheduleId)));
    await recordAudit(tx, t, {
      action: enabled ? "schedule.resumed" : "schedule.paused",
      target: { type: "schedule", id: scheduleId, label: s.name },
    });
  });
}

/**
 * Its backups stay, as unscheduled backups of their server under the team's default policy: when
 * retention would then trash some it keeps now, or that policy keeps fewer and some are stored,
 * deleting the schedule takes an admin.
 */
export async function deleteSchedule(t: TeamContext, scheduleId: string) {
  assertRole(t, "member");
  const d = await db();
  await d.transaction(async (tx) => {
    const [schedule] = await tx
      .select({ retention: schedules.retention })
      .from(schedules)
      .where(inTeam(schedules, t, eq(schedules.id, scheduleId)))
      .for("update");
    if (!schedule) throw notFound("That schedule");
    await assertMayLetGo(
      tx,
      t,
      scheduleId,
      schedule.retention,
      (b) => `Its ${b} would then follow`,
      "Ask an admin, or pause the schedule instead.",
      "deleting this schedule",
    );
    await tx
      .update(backups)
      .set({ scheduleId: null })
      .where(inTeam(backups, t, eq(backups.scheduleId, scheduleId)));
    const [row] = await tx
      .delete(schedules)
      .where(inTeam(schedules, t, eq(schedules.id, scheduleId)))
      .returning({ name: schedules.name });
    if (!row) throw notFound("That schedule");
    await recordAudit(tx, t, {
      action: "schedule.deleted",
      target: { type: "schedule", id: scheduleId, label: row.name },
    });
  });
}

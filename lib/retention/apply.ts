import "server-only";
import { and, asc, eq, gt, inArray, isNull, lt, or } from "drizzle-orm";
import { backupLocations, backups, schedules, storageDestinations } from "@/db/schema";
import { recordAudit } from "../audit/record";
import { RESTORED_DAYS } from "../backups/retrieval";
import { retrievalHours, STORAGE_CLASSES } from "../storage/classes";
import type { StorageKind } from "../storage/types";
import { db } from "../db";
import { withDestination } from "../destinations/use";
import { notFound } from "../errors";
import { failureMessage } from "../jobs/failure";
import type { Subjects } from "../notifications/build";
import { emit } from "../notifications/emit";
import { assertTimeZone } from "../schedules/cron";
import { deleteExpiredCopies, expireTrash } from "../trash/purge";
import { inTeam, systemTeam, type TeamContext } from "../teams/context";
import { decideScope, inScope, type RetentionScope, type ScopeDecisions } from "./groups";
import type { RetentionPolicy, Tier } from "./select";

/**
 * What a policy (the scope's own, or one being edited) would keep and expire now, in the groups
 * retention weighs (groups.ts); changes nothing.
 */
export async function previewRetention(
  t: TeamContext,
  scope: RetentionScope,
  policy?: RetentionPolicy,
  timeZone?: string,
): Promise<ScopeDecisions> {
  if (timeZone) assertTimeZone(timeZone);
  return decideScope(await db(), t, scope, policy, timeZone);
}

export interface RetentionResult {
  /** Backups no rule keeps any longer, moved to the trash. */
  trashed: number;
  /** Trashed backups whose grace period ended: their copies are deleted. */
  expired: number;
  /** Objects moved to another storage class. */
  transitioned: number;
  /** Copies that could not be deleted or moved yet (the next run tries again). */
  problems: string[];
}

/** A destination's class for a tier (yearly backups use the monthly class). */
function classFor(
  dest: { classDaily: string | null; classWeekly: string | null; classMonthly: string | null },
  tier: Tier,
): string | null {
  return tier === "daily" ? dest.classDaily : tier === "weekly" ? dest.classWeekly : dest.classMonthly;
}

/**
 * Applies a scope's policy: a backup no rule keeps goes to the trash (only if nothing is reading
 * it), where its copies stay for the team's grace period; trashed backups past it expire and their
 * copies are deleted (one that cannot be is retried by the next run). Kept backups get their tier
 * and their copies move to its class, never a warmer one, nor within a week of a retrieval.
 * Idempotent and safe to run twice at once: every change is a guarded statement.
 */
export async function applyRetention(teamId: string, scope: RetentionScope): Promise<RetentionResult> {
  const t = await systemTeam(teamId, "retention");
  const d = await db();
  const { label, decisions } = await decideScope(d, t, scope);
  const result: RetentionResult = { trashed: 0, expired: 0, transitioned: 0, problems: [] };
  const changes: Pick<Subjects["retention.applied"], "trashed" | "expired" | "moved"> = {
    trashed: [],
    expired: [],
    moved: [],
  };
  const now = new Date();
  for (const dec of decisions.filter((x) => !x.keep)) {
    const [row] = await d
      .update(backups)
      .set({
        status: "trashed",
        trashedAt: now,
        trashedBy: "retention",
        trashedReason: `Removed by ${label}: no rule keeps it any longer.`,
        readingUntil: null,
      })
      .where(
        inTeam(
          backups,
          t,
          eq(backups.id, dec.id),
          eq(backups.status, "succeeded"),
          isNull(backups.pinnedAt),
          or(isNull(backups.readingUntil), lt(backups.readingUntil, now)),
        ),
      )
      .returning({ id: backups.id, fileName: backups.fileName, startedAt: backups.startedAt });
    if (!row) continue;
    await recordAudit(d, t, {
      action: "backup.trashed",
      target: { type: "backup", id: row.id, label: row.fileName },
      details: { by: label },
    });
    result.trashed++;
    changes.trashed.push({ id: row.id, startedAt: row.startedAt });
  }
  changes.expired = await expireTrash(t, inScope(scope));
  result.expired = changes.expired.length;
  // Copies of expired backups still stored: this run's, and any an earlier run could not delete.
  result.problems.push(...(await deleteExpiredCopies(t, inScope(scope))));
  // Tiers and storage classes of what is kept.
  const kept = decisions.filter((x) => x.keep);
  for (const dec of kept)
    await d
      .update(backups)
      .set({ tier: dec.tier })
      .where(inTeam(backups, t, eq(backups.id, dec.id), eq(backups.status, "succeeded")));
  const tierOf = new Map(kept.filter((k) => k.tier).map((k) => [k.id, k.tier!]));
  // A retrieved copy keeps its class as long as S3 keeps a restored copy readable.
  const retrievedBefore = new Date(now.getTime() - RESTORED_DAYS * 86_400_000);
  const locations = await d
    .select({
      id: backupLocations.id,
      backupId: backupLocations.backupId,
      destinationId: backupLocations.destinationId,
      objectKey: backupLocations.objectKey,
      storageClass: backupLocations.storageClass,
      kind: storageDestinations.kind,
      classDaily: storageDestinations.classDaily,
      classWeekly: storageDestinations.classWeekly,
      classMonthly: storageDestinations.classMonthly,
    })
    .from(backupLocations)
    .innerJoin(
      storageDestinations,
      and(
        eq(storageDestinations.teamId, backupLocations.teamId),
        eq(storageDestinations.id, backupLocations.destinationId),
      ),
    )
    .innerJoin(backups, and(eq(backups.teamId, backupLocations.teamId), eq(backups.id, backupLocations.backupId)))
    .where(
      inTeam(
        backupLocations,
        t,
        inArray(backupLocations.backupId, [...tierOf.keys()]),
        eq(backupLocations.status, "stored"),
        // A copy being read (a download, restore or verification) moves on a later run: in an
        // archive class its next read (a resumed range, a retried request) would fail.
        or(isNull(backups.readingUntil), lt(backups.readingUntil, now)),
        // So does one retrieved lately: archived again (an Azure blob rehydrated to Cool), a
        // download resumed or a restore started within the week would need another paid retrieval.
        or(isNull(backupLocations.retrievalRequestedAt), lt(backupLocations.retrievalRequestedAt, retrievedBefore)),
      ),
    );
  for (const loc of locations) {
    const target = classFor(loc, tierOf.get(loc.backupId)!);
    if (!target || target === loc.storageClass) continue;
    if (!colder(loc.kind, loc.storageClass, target)) continue;
    try {
      await withDestination(t, loc.destinationId, (a) => a.setStorageClass(loc.objectKey, target));
      await d
        .update(backupLocations)
        .set({ storageClass: target, error: null, retrievalRequestedAt: null, retrievalReadyAt: null })
        .where(inTeam(backupLocations, t, eq(backupLocations.id, loc.id), eq(backupLocations.status, "stored")));
      await recordAudit(d, t, {
        action: "backup.class_changed",
        target: { type: "backup", id: loc.backupId },
        details: { destinationId: loc.destinationId, from: loc.storageClass, to: target },
      });
      result.transitioned++;
      changes.moved.push({ destinationId: loc.destinationId, from: loc.storageClass, to: target });
    } catch (err) {
      result.problems.push(failureMessage(err, { backupId: loc.backupId, destinationId: loc.destinationId }));
    }
  }
  await emit(t, "retention.applied", { scope, ...changes, problems: result.problems.length });
  return result;
}

/**
 * Whether a copy in class `from` may move to `to`: only ever colder in the provider's own order
 * (not the destination's tiers, which an admin may have changed since), never out of archive
 * storage (that needs a paid retrieval), and never from a class Coffer does not know (one a
 * bucket's lifecycle rule chose), so a policy change cannot thrash or undo a retrieval.
 */
function colder(kind: StorageKind, from: string | null, to: string): boolean {
  if (retrievalHours(kind, from) !== null) return false;
  const order: readonly string[] = STORAGE_CLASSES[kind];
  const at = from === null ? 0 : order.indexOf(from);
  return at >= 0 && order.indexOf(to) > at;
}

/** The scope a backup belongs to: its schedule's, or its server's unscheduled backups. */
export async function scopeOfBackup(teamId: string, backupId: string): Promise<RetentionScope> {
  const d = await db();
  const [b] = await d
    .select({ scheduleId: backups.scheduleId, serverId: backups.serverId })
    .from(backups)
    .where(inTeam(backups, { id: teamId }, eq(backups.id, backupId)));
  if (!b) throw notFound("That backup");
  return b.scheduleId ? { scheduleId: b.scheduleId } : { serverId: b.serverId };
}

/**
 * One page of every team's scopes, for the daily run, in id order after `after`: schedules, or the
 * servers whose unscheduled backups are kept, in the trash or expired (copies an earlier run could
 * not delete are retried).
 */
export async function retentionScopesAllTeams(
  kind: "schedules" | "servers",
  after: string,
  limit: number,
): Promise<({ teamId: string; id: string } & RetentionScope)[]> {
  const d = await db();
  if (kind === "schedules") {
    const rows = await d
      .select({ teamId: schedules.teamId, id: schedules.id })
      .from(schedules)
      .where(gt(schedules.id, after))
      .orderBy(asc(schedules.id))
      .limit(limit);
    return rows.map((r) => ({ ...r, scheduleId: r.id }));
  }
  const rows = await d
    .selectDistinct({ teamId: backups.teamId, id: backups.serverId })
    .from(backups)
    .where(
      and(
        isNull(backups.scheduleId),
        inArray(backups.status, ["succeeded", "trashed", "expired"]),
        gt(backups.serverId, after),
      ),
    )
    .orderBy(asc(backups.serverId))
    .limit(limit);
  return rows.map((r) => ({ ...r, serverId: r.id }));
}

/** Marks a backup as being read (a download) for the next `ms`, so retention leaves it alone. */
export async function holdForReading(t: TeamContext, backupId: string, ms: number): Promise<void> {
  const d = await db();
  const until = new Date(Date.now() + ms);
  await d
    .update(backups)
    .set({ readingUntil: until })
    .where(
      inTeam(backups, t, eq(backups.id, backupId), or(isNull(backups.readingUntil), lt(backups.readingUntil, until))),
    );
}

import "server-only";
import { sql } from "drizzle-orm";
import { newId } from "@/db/columns";
import { auditEvents } from "@/db/schema";
import type { Database, Transaction } from "../db";
import type { Actor, TeamContext } from "../teams/context";

export interface AuditEntry {
  action: string;
  target?: { type: string; id: string; label?: string };
  details?: Record<string, unknown>;
}

/**
 * An actor that acts on a person's authority without being them: an API token, for its creator.
 * Its rows name that person in `actor_user_id` (the label says it was the token). `userId` stays
 * null because the lib reads it as the signed-in person (inviting, leaving, changing members).
 */
export interface DelegatedActor extends Actor {
  onBehalfOfUserId: string | null;
}

/** The user a row is recorded for: who acted, or on whose authority. */
const actorUserIdOf = (a: Actor): string | null =>
  a.userId ?? ("onBehalfOfUserId" in a && typeof a.onBehalfOfUserId === "string" ? a.onBehalfOfUserId : null);

/** Records a change in the same transaction as the change itself. Never pass secrets in details. */
export async function recordAudit(
  tx: Database | Transaction,
  t: Pick<TeamContext, "id" | "actor">,
  e: AuditEntry,
): Promise<void> {
  await tx.insert(auditEvents).values({
    teamId: t.id,
    actorUserId: actorUserIdOf(t.actor),
    actor: t.actor.label,
    action: e.action,
    targetType: e.target?.type,
    targetId: e.target?.id,
    targetLabel: e.target?.label,
    ip: t.actor.ip,
    details: e.details,
  });
}

/**
 * Records `e` unless the same actor already has a row of the same action on the same target within
 * `withinMs` (a resumed download is one download). Reads that repeat, not changes. Calls for the
 * same row take turns (a transaction lock on it), so requests made at once, such as a download
 * manager's parallel ranges, record one row too. Given a transaction, the lock lasts until it
 * ends: a second call for the same row from outside it waits for that.
 */
export async function recordAuditOnce(
  tx: Database | Transaction,
  t: Pick<TeamContext, "id" | "actor">,
  e: AuditEntry & { target: { type: string; id: string; label?: string } },
  withinMs: number,
): Promise<void> {
  const a = auditEvents;
  const userId = actorUserIdOf(t.actor);
  const row = JSON.stringify([t.id, e.action, e.target.id, t.actor.label, userId]);
  await tx.transaction(async (tx) => {
    // Read committed: the insert's snapshot is taken after the lock, so it sees the row of whoever held it before.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${row}, 0))`);
    await tx.execute(sql`
    insert into ${a} (${sql.identifier(a.id.name)}, ${sql.identifier(a.teamId.name)}, ${sql.identifier(a.actorUserId.name)},
      ${sql.identifier(a.actor.name)}, ${sql.identifier(a.action.name)}, ${sql.identifier(a.targetType.name)},
      ${sql.identifier(a.targetId.name)}, ${sql.identifier(a.targetLabel.name)}, ${sql.identifier(a.ip.name)},
      ${sql.identifier(a.details.name)})
    select ${newId("aud")}, ${t.id}, ${userId}, ${t.actor.label}, ${e.action}, ${e.target.type},
      ${e.target.id}, ${e.target.label ?? null}, ${t.actor.ip}, ${e.details ? JSON.stringify(e.details) : null}::jsonb
    where not exists (
      select 1 from ${a}
      where ${a.teamId} = ${t.id} and ${a.action} = ${e.action} and ${a.targetId} = ${e.target.id}
        and ${a.actor} = ${t.actor.label} and ${a.actorUserId} is not distinct from ${userId}
        and ${a.createdAt} > clock_timestamp() - ${`${Math.round(withinMs / 1000)} seconds`}::interval
    )`);
  });
}

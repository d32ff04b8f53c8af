import "server-only";
import { auditEvents } from "@/db/schema";
import type { Database, Transaction } from "../db";
import type { TeamContext } from "../teams/context";

export interface AuditEntry {
  action: string;
  target?: { type: string; id: string; label?: string };
  details?: Record<string, unknown>;
}

/** Records a change in the same transaction as the change itself. Never pass secrets in details. */
export async function recordAudit(
  tx: Database | Transaction,
  t: Pick<TeamContext, "id" | "actor">,
  e: AuditEntry,
): Promise<void> {
  await tx.insert(auditEvents).values({
    teamId: t.id,
    actorUserId: t.actor.userId,
    actor: t.actor.label,
    action: e.action,
    targetType: e.target?.type,
    targetId: e.target?.id,
    targetLabel: e.target?.label,
    ip: t.actor.ip,
    details: e.details,
  });
}

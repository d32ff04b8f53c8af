import "server-only";
import { eq, isNull, type SQL } from "drizzle-orm";
import type { Database, Transaction } from "../db";
import { inTeam, type TeamContext } from "../teams/context";
import { jobTable, type JobKind } from "./table";

/**
 * Asks a job to stop, as `t`'s actor: a queued one is cancelled at once; a running one (that
 * `running` also matches) sees the request with its next progress update, about a second later.
 * "unchanged" when neither applies: the caller looks the job up to say why.
 */
export async function requestCancel(
  tx: Database | Transaction,
  kind: JobKind,
  t: TeamContext,
  id: string,
  running?: SQL,
): Promise<"cancelled" | "asked" | "unchanged"> {
  const table = jobTable(kind);
  const now = new Date();
  const [queued] = await tx
    .update(table)
    .set({
      status: "cancelled",
      finishedAt: now,
      cancelRequestedAt: now,
      cancelRequestedBy: t.actor.label,
      error: `Cancelled by ${t.actor.label} before it started.`,
    })
    .where(inTeam(table, t, eq(table.id, id), eq(table.status, "queued")))
    .returning({ id: table.id });
  if (queued) return "cancelled";
  const [asked] = await tx
    .update(table)
    .set({ cancelRequestedAt: now, cancelRequestedBy: t.actor.label })
    .where(inTeam(table, t, eq(table.id, id), eq(table.status, "running"), isNull(table.cancelRequestedAt), running))
    .returning({ id: table.id });
  return asked ? "asked" : "unchanged";
}

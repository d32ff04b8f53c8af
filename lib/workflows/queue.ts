import "server-only";
import { and, asc, count, type AnyColumn, eq, gt, inArray, lt, lte, ne, sql } from "drizzle-orm";
import { workflowKeys, workflowRuns } from "@/db/schema";
import { db, pgCode, type Transaction } from "../db";
import { instanceId } from "./instance";

/**
 * The in-process engine's queue, in the database (across teams): runs wait here for their turn,
 * their back-off and their instance, so a restart resumes them. Claims take an advisory lock, so
 * instances sharing a database keep to the concurrency limits together. Every write to a claimed
 * run is guarded by this instance's claim.
 */

export type QueuedRun = typeof workflowRuns.$inferSelect;
export type RunFailure = NonNullable<QueuedRun["failure"]>;
export interface NewRun {
  functionId: string;
  event: QueuedRun["event"];
  subject?: string;
  concurrencyKeys: string[];
}

const CLAIM_LOCK_ID = 7_240_114;

/** Records `key` as seen until `ttlMs` from now; whether it was new (or its last sighting had expired). */
export type Sighting = (key: string, ttlMs: number) => Promise<boolean>;

/**
 * Queues the runs `plan` returns in the transaction that records the keys it looks up through
 * `firstSighting` (event ids, idempotency keys): a crash or a failed insert records neither, so the
 * same event sent again is queued, not ignored as already seen. Two sends that look up the same
 * keys in opposite orders can wait for each other; PostgreSQL then fails one (a deadlock), which
 * runs again.
 */
export async function queueOnce(plan: (firstSighting: Sighting) => Promise<NewRun[]>): Promise<void> {
  const d = await db();
  for (let attempt = 1; ; attempt++) {
    try {
      return await d.transaction(async (tx) => {
        const runs = await plan((key, ttlMs) => sighting(tx, key, ttlMs));
        if (!runs.length) return;
        const now = new Date();
        await tx.insert(workflowRuns).values(runs.map((r) => ({ ...r, status: "queued" as const, availableAt: now })));
      });
    } catch (err) {
      if (attempt >= 3 || pgCode(err) !== DEADLOCK) throw err;
    }
  }
}

const DEADLOCK = "40P01";

async function sighting(tx: Transaction, key: string, ttlMs: number): Promise<boolean> {
  const expiresAt = new Date(Date.now() + ttlMs);
  const rows = await tx
    .insert(workflowKeys)
    .values({ key, expiresAt })
    .onConflictDoUpdate({
      target: workflowKeys.key,
      set: { expiresAt },
      setWhere: lt(workflowKeys.expiresAt, new Date()),
    })
    .returning({ key: workflowKeys.key });
  return rows.length > 0;
}

/** Deletes the expired keys (what keeps the table small). */
export async function forgetExpiredKeys(): Promise<void> {
  const d = await db();
  await d.delete(workflowKeys).where(lt(workflowKeys.expiresAt, new Date()));
}

/** Due runs a claim reads at a time, and at most how many pages when none of them may start. */
export const CLAIM_PAGE_SIZE = 500;
const CLAIM_PAGES = 20;

/**
 * Claims the queued runs of `functionIds` that are due and fit their concurrency limits
 * (`limitsOf` gives a run's limits, in the order of its keys), oldest first, for this instance.
 */
export async function claimRuns(functionIds: string[], limitsOf: (run: QueuedRun) => number[]): Promise<QueuedRun[]> {
  const d = await db();
  const due = and(
    eq(workflowRuns.status, "queued"),
    lte(workflowRuns.availableAt, new Date()),
    inArray(workflowRuns.functionId, functionIds),
  );
  // Nothing due is the usual answer (every run's end asks again): no transaction, no lock for it.
  const [any] = await d.select({ id: workflowRuns.id }).from(workflowRuns).where(due).limit(1);
  if (!any) return [];
  return d.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${CLAIM_LOCK_ID})`);
    const running = await tx
      .select({ keys: workflowRuns.concurrencyKeys })
      .from(workflowRuns)
      .where(eq(workflowRuns.status, "running"));
    const active = new Map<string, number>();
    for (const r of running) for (const k of r.keys) active.set(k, (active.get(k) ?? 0) + 1);
    // Page by page, past runs held back by their limits (a server's backlog of backups): the
    // oldest 500 all waiting on one key kept every newer run, other teams' too, from being claimed.
    const picked: number[] = [];
    let after = 0;
    for (let page = 0; page < CLAIM_PAGES; page++) {
      const candidates = await tx
        .select()
        .from(workflowRuns)
        .where(and(due, gt(workflowRuns.id, after)))
        .orderBy(asc(workflowRuns.id))
        .limit(CLAIM_PAGE_SIZE);
      for (const run of candidates) {
        const limits = limitsOf(run);
        if (run.concurrencyKeys.some((k, i) => (active.get(k) ?? 0) >= limits[i]!)) continue;
        for (const k of run.concurrencyKeys) active.set(k, (active.get(k) ?? 0) + 1);
        picked.push(run.id);
      }
      if (picked.length || candidates.length < CLAIM_PAGE_SIZE) break;
      after = candidates.at(-1)!.id;
    }
    if (!picked.length) return [];
    return tx
      .update(workflowRuns)
      .set({
        status: "running",
        claimedBy: instanceId(),
        // An onFailure handler's run is not an attempt of the function.
        attempts: sql`case when ${workflowRuns.failure} is null then ${workflowRuns.attempts} + 1 else ${workflowRuns.attempts} end`,
      })
      .where(inArray(workflowRuns.id, picked))
      .returning();
  });
}

const mine = (id: number) => and(eq(workflowRuns.id, id), eq(workflowRuns.claimedBy, instanceId()));

// The writes below change the run only while this instance holds its claim, and resolve with
// whether it did: false means another instance took the run over (this one was judged gone), and
// the caller leaves the run, its job and its onFailure to that instance.

/** After a failed attempt: queued again at `at`, resuming after `steps`. */
export async function retryRunAt(id: number, steps: Record<string, unknown>, at: Date): Promise<boolean> {
  const d = await db();
  const rows = await d
    .update(workflowRuns)
    .set({ status: "queued", steps, availableAt: at, claimedBy: null })
    .where(mine(id))
    .returning({ id: workflowRuns.id });
  return rows.length > 0;
}

/** Retries ran out: records the failure, so onFailure runs (again, if this process ends first). */
export async function recordRunFailure(
  id: number,
  steps: Record<string, unknown>,
  failure: RunFailure,
): Promise<boolean> {
  const d = await db();
  const rows = await d.update(workflowRuns).set({ steps, failure }).where(mine(id)).returning({ id: workflowRuns.id });
  return rows.length > 0;
}

export async function finishRun(id: number): Promise<boolean> {
  const d = await db();
  const rows = await d.delete(workflowRuns).where(mine(id)).returning({ id: workflowRuns.id });
  return rows.length > 0;
}

/** When the next queued run of `functionIds` is due (null: none is queued). */
export async function nextDue(functionIds: string[]): Promise<{ at: Date | null; pending: number }> {
  const d = await db();
  const [row] = await d
    .select({
      at: sql<string | null>`min(${workflowRuns.availableAt}) filter (where ${workflowRuns.status} = 'queued')`,
      pending: count(),
    })
    .from(workflowRuns)
    .where(inArray(workflowRuns.functionId, functionIds));
  return { at: row?.at ? new Date(row.at) : null, pending: row?.pending ?? 0 };
}

/**
 * Queues again the runs whose instance is gone (not in `live`): the attempt it was making counts,
 * so a run out of attempts (`maxAttemptsOf`) goes to its onFailure with `reason`. Resolves with
 * how many were taken up.
 */
export async function requeueInterruptedAllTeams(
  live: Set<string>,
  maxAttemptsOf: (functionId: string) => number,
  reason: string,
): Promise<number> {
  const d = await db();
  const held = await d
    .select({
      id: workflowRuns.id,
      functionId: workflowRuns.functionId,
      attempts: workflowRuns.attempts,
      claimedBy: workflowRuns.claimedBy,
      failure: workflowRuns.failure,
    })
    .from(workflowRuns)
    .where(and(eq(workflowRuns.status, "running"), ne(workflowRuns.claimedBy, instanceId())));
  let taken = 0;
  for (const run of held) {
    if (live.has(run.claimedBy!)) continue;
    const outOfAttempts = !run.failure && run.attempts >= maxAttemptsOf(run.functionId);
    const [row] = await d
      .update(workflowRuns)
      .set({
        status: "queued",
        claimedBy: null,
        availableAt: new Date(),
        ...(outOfAttempts ? { failure: { name: "Error", message: reason, permanent: false } } : {}),
      })
      .where(and(eq(workflowRuns.id, run.id), eq(workflowRuns.claimedBy, run.claimedBy!)))
      .returning({ id: workflowRuns.id });
    if (row) taken++;
  }
  return taken;
}

/**
 * Shutdown: this instance's runs still going are queued again at once for another instance; the
 * attempt they were making does not count. Resolves with their ids.
 */
export async function handBackRuns(): Promise<number[]> {
  const d = await db();
  const rows = await d
    .update(workflowRuns)
    .set({
      status: "queued",
      claimedBy: null,
      availableAt: new Date(),
      attempts: sql`case when ${workflowRuns.failure} is null then greatest(${workflowRuns.attempts} - 1, 0) else ${workflowRuns.attempts} end`,
    })
    .where(and(eq(workflowRuns.status, "running"), eq(workflowRuns.claimedBy, instanceId())))
    .returning({ id: workflowRuns.id });
  return rows.map((r) => r.id);
}

/** Whether a workflow run for `subject` (a job id) is still pending in this queue (the sweepers leave its job to it). */
export function pendingRunFor(subject: AnyColumn) {
  return sql`exists (select 1 from ${workflowRuns} where ${workflowRuns.subject} = ${subject})`;
}

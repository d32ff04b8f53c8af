import "server-only";
import { and, asc, eq, inArray, isNull, lt, lte, min, or, sql } from "drizzle-orm";
import { notificationChannels, notificationDeliveries, notificationEvents } from "@/db/schema";
import { db } from "../db";
import type { HttpOutcome } from "./http";
import { recordHealth } from "./health";
import { MAX_ATTEMPTS, RETRY_DELAYS_MS } from "./retries";
import { attempt, type SendingChannel } from "./send";
import { inTeam } from "../teams/context";

/** Requests in flight to one channel at once. */
export const IN_FLIGHT = 4;
/** Claimed at once: even if every attempt times out (10 s), a batch ends within 50 s… */
const BATCH = IN_FLIGHT * 5;
/** …well inside its lease, after which anyone may claim its deliveries again. */
export const LEASE_MS = 120_000;
/** A run waits for a retry due this soon (the 5 s one) instead of leaving it to the next run. */
const WAIT_FOR_RETRY_MS = 10_000;

interface Claimed {
  id: string;
  eventId: string;
  attempts: number;
  emailDone: { sent: string[]; refused: string[] };
}

/**
 * Claims up to `limit` due deliveries of a channel: set-based, `FOR UPDATE SKIP LOCKED`, so two
 * runs never take the same row; the claim moves `next_attempt_at` forward by the lease.
 */
async function claim(teamId: string, channelId: string, limit: number, deliveryId?: string): Promise<Claimed[]> {
  const d = await db();
  const due = d
    .select({ id: notificationDeliveries.id })
    .from(notificationDeliveries)
    .where(
      and(
        inTeam(notificationDeliveries, { id: teamId }),
        eq(notificationDeliveries.channelId, channelId),
        eq(notificationDeliveries.status, "pending"),
        deliveryId ? eq(notificationDeliveries.id, deliveryId) : lte(notificationDeliveries.nextAttemptAt, sql`now()`),
      ),
    )
    .orderBy(asc(notificationDeliveries.nextAttemptAt), asc(notificationDeliveries.id))
    .limit(limit)
    .for("update", { skipLocked: true });
  return d
    .update(notificationDeliveries)
    .set({
      attempts: sql`${notificationDeliveries.attempts} + 1`,
      nextAttemptAt: sql`now() + ${`${LEASE_MS} milliseconds`}::interval`,
      lastAttemptAt: sql`now()`,
    })
    .where(inTeam(notificationDeliveries, { id: teamId }, inArray(notificationDeliveries.id, due)))
    .returning({
      id: notificationDeliveries.id,
      eventId: notificationDeliveries.eventId,
      attempts: notificationDeliveries.attempts,
      emailDone: notificationDeliveries.emailDone,
    });
}

async function loadChannel(teamId: string, channelId: string) {
  const d = await db();
  const [row] = await d
    .select({
      id: notificationChannels.id,
      teamId: notificationChannels.teamId,
      kind: notificationChannels.kind,
      enabled: notificationChannels.enabled,
      urlEnc: notificationChannels.urlEnc,
      secretEnc: notificationChannels.secretEnc,
      previousSecretEnc: notificationChannels.previousSecretEnc,
      previousSecretUntil: notificationChannels.previousSecretUntil,
      emailRoles: notificationChannels.emailRoles,
      emailAddresses: notificationChannels.emailAddresses,
    })
    .from(notificationChannels)
    .where(and(inTeam(notificationChannels, { id: teamId }), eq(notificationChannels.id, channelId)));
  return row;
}

export interface RecordedOutcome extends HttpOutcome {
  deliveryId: string;
  final: boolean;
  test: boolean;
}

/** Attempts the claimed deliveries, IN_FLIGHT at a time, and records each outcome as it comes. */
async function attemptAll(channel: SendingChannel, claimed: Claimed[]): Promise<RecordedOutcome[]> {
  const d = await db();
  const events = await d
    .select({ id: notificationEvents.id, body: notificationEvents.body, test: notificationEvents.test })
    .from(notificationEvents)
    .where(
      and(
        inTeam(notificationEvents, { id: channel.teamId }),
        inArray(notificationEvents.id, [...new Set(claimed.map((c) => c.eventId))]),
      ),
    );
  const byId = new Map(events.map((e) => [e.id, e]));
  const results: RecordedOutcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < claimed.length) {
      const c = claimed[next++]!;
      const event = byId.get(c.eventId)!;
      const outcome = await attempt(channel, event, c.emailDone);
      results.push(await record(channel.teamId, c, outcome, event.test));
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, claimed.length) }, worker));
  return results;
}

/** Stores an attempt's outcome; guarded by the claim, so a run whose lease ran out writes nothing. */
async function record(teamId: string, c: Claimed, o: HttpOutcome, test: boolean): Promise<RecordedOutcome> {
  // A success is final unless some e-mail recipients are still to be tried (a test tries once).
  const final = (o.ok && !o.incomplete) || o.permanent || test || c.attempts >= MAX_ATTEMPTS;
  const d = await db();
  await d
    .update(notificationDeliveries)
    .set({
      status: o.ok && final ? "succeeded" : final ? "failed" : "pending",
      nextAttemptAt: final ? sql`now()` : sql`now() + ${`${RETRY_DELAYS_MS[c.attempts - 1]} milliseconds`}::interval`,
      responseStatus: o.status,
      responseBody: o.body,
      latencyMs: o.latencyMs,
      error: o.error,
      ...(o.done
        ? {
            emailDone: {
              sent: [...c.emailDone.sent, ...o.done.sent],
              refused: [...c.emailDone.refused, ...o.done.refused],
            },
          }
        : {}),
    })
    .where(
      and(
        inTeam(notificationDeliveries, { id: teamId }),
        eq(notificationDeliveries.id, c.id),
        eq(notificationDeliveries.status, "pending"),
        eq(notificationDeliveries.attempts, c.attempts),
      ),
    );
  return { ...o, deliveryId: c.id, final, test };
}

/**
 * Delivers what is due for one channel until nothing is, or `budgetMs` is spent (the next run
 * goes on). One run per channel at a time — the workflow's concurrency key, and a lease on the
 * channel row that the dispatcher reads, so a burst of events does not queue a run per wake-up —
 * so a slow or dead channel only ever holds up itself.
 */
export async function deliverChannel(
  teamId: string,
  channelId: string,
  budgetMs = 50_000,
): Promise<{ attempted: number; delivered: number; failed: number }> {
  const stop = Date.now() + budgetMs;
  const totals = { attempted: 0, delivered: 0, failed: 0 };
  let idle = true;
  while (idle && Date.now() < stop && (await lease(teamId, channelId, true))) {
    idle = false;
    try {
      for (;;) {
        const channel = await loadChannel(teamId, channelId);
        if (!channel?.enabled || Date.now() >= stop) break;
        const claimed = await claim(teamId, channelId, BATCH);
        if (!claimed.length) {
          const wait = (await nextDue(teamId, channelId)) - Date.now();
          idle = wait > WAIT_FOR_RETRY_MS;
          if (idle || Date.now() + wait > stop) break;
          await new Promise((r) => setTimeout(r, Math.max(wait, 50)));
          continue;
        }
        const outcomes = await attemptAll(channel, claimed);
        totals.attempted += outcomes.length;
        totals.delivered += outcomes.filter((o) => o.ok).length;
        totals.failed += outcomes.filter((o) => !o.ok && o.final).length;
        await recordHealth(channel, outcomes);
        await lease(teamId, channelId, false);
      }
    } finally {
      await lease(teamId, channelId, null);
    }
    // A delivery queued while this run was finishing was skipped by the dispatcher: take it too.
    idle &&= (await nextDue(teamId, channelId)) <= Date.now();
  }
  return totals;
}

/** Takes (`true`: only if nobody holds it), renews (`false`) or gives back (`null`) the channel's delivery lease. */
async function lease(teamId: string, channelId: string, take: boolean | null): Promise<boolean> {
  const d = await db();
  const rows = await d
    .update(notificationChannels)
    .set({ deliveringUntil: take === null ? null : sql`now() + ${`${LEASE_MS} milliseconds`}::interval` })
    .where(
      and(
        inTeam(notificationChannels, { id: teamId }),
        eq(notificationChannels.id, channelId),
        take
          ? or(isNull(notificationChannels.deliveringUntil), lt(notificationChannels.deliveringUntil, sql`now()`))
          : undefined,
      ),
    )
    .returning({ id: notificationChannels.id });
  return rows.length > 0;
}

/** When the channel's next pending delivery is due (ms since epoch), or Infinity. */
async function nextDue(teamId: string, channelId: string): Promise<number> {
  const d = await db();
  const [row] = await d
    .select({ at: min(notificationDeliveries.nextAttemptAt) })
    .from(notificationDeliveries)
    .where(
      and(
        inTeam(notificationDeliveries, { id: teamId }),
        eq(notificationDeliveries.channelId, channelId),
        eq(notificationDeliveries.status, "pending"),
      ),
    );
  return row?.at ? new Date(row.at).getTime() : Infinity;
}

/** Attempts one delivery now, whatever its due time (Send test); null when someone else holds it. */
export async function deliverNow(
  teamId: string,
  channelId: string,
  deliveryId: string,
): Promise<RecordedOutcome | null> {
  const channel = await loadChannel(teamId, channelId);
  if (!channel) return null;
  const claimed = await claim(teamId, channelId, 1, deliveryId);
  if (!claimed.length) return null;
  const [outcome] = await attemptAll(channel, claimed);
  await recordHealth(channel, [outcome!]);
  return outcome!;
}

/** Channels of every team with deliveries due now or within the next seconds, for the dispatcher. */
export async function channelsWithDueDeliveriesAllTeams(): Promise<{ teamId: string; channelId: string }[]> {
  const d = await db();
  return d
    .selectDistinct({ teamId: notificationDeliveries.teamId, channelId: notificationDeliveries.channelId })
    .from(notificationDeliveries)
    .innerJoin(
      notificationChannels,
      and(
        eq(notificationChannels.teamId, notificationDeliveries.teamId),
        eq(notificationChannels.id, notificationDeliveries.channelId),
      ),
    )
    .where(
      and(
        eq(notificationDeliveries.status, "pending"),
        lte(notificationDeliveries.nextAttemptAt, sql`now() + ${`${WAIT_FOR_RETRY_MS} milliseconds`}::interval`),
        eq(notificationChannels.enabled, true),
        or(isNull(notificationChannels.deliveringUntil), lt(notificationChannels.deliveringUntil, sql`now()`)),
      ),
    );
}

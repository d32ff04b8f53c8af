import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq, inArray, like, sql } from "drizzle-orm";
import { signInEvents, signInThrottle, userSessions } from "@/db/schema";
import { inProcessEngine, type InProcessEngine } from "@/inngest/in-process";
import { pruneSignIns } from "@/inngest/functions/prune-sign-ins";
import { signedUpUser } from "@/test/factories";
import { db } from "../db";
import { requestPasswordReset } from "./password-reset";
import { authenticate, createSession } from "./users";

let engine: InProcessEngine;
beforeAll(async () => {
  engine = await inProcessEngine();
});
afterAll(() => engine?.stop());

const failSignIn = (email: string, ip: string) => authenticate(email, "wrong-password", ip).catch(() => {});
const ipOf = (n: number) => `198.51.100.${n}`;

describe("prune-sign-ins", () => {
  it("deletes what counts nothing any more and keeps the rest: throttle windows a day old without a wait, failed sign-ins after 90 days, sessions 30 days after they ended", async () => {
    const d = await db();
    const tag = randomBytes(4).toString("hex");
    const [stale, waiting, recent] = [
      `stale-${tag}@example.test`,
      `waiting-${tag}@example.test`,
      `recent-${tag}@example.test`,
    ];
    for (const [i, email] of [stale, waiting, recent].entries()) await failSignIn(email, ipOf(i + 1));
    await requestPasswordReset(stale, ipOf(9)); // `reset:<email>`, claimed for a minute
    // A day and more since the first failure, the reset's minute over; `waiting` must still wait 5 minutes.
    await d
      .update(signInThrottle)
      .set({ windowStartedAt: sql`now() - interval '25 hours'`, lockedUntil: null })
      .where(like(signInThrottle.key, `%${tag}@example.test`));
    await d
      .update(signInThrottle)
      .set({ lockedUntil: sql`now() + interval '5 minutes'` })
      .where(eq(signInThrottle.key, `account:${waiting}`));
    await d
      .update(signInThrottle)
      .set({ windowStartedAt: sql`now()` })
      .where(eq(signInThrottle.key, `account:${recent}`));

    const ada = await signedUpUser("Ada");
    await failSignIn(ada.email, ipOf(4));
    await failSignIn(ada.email, ipOf(5));
    const [oldEvent, newEvent] = await d
      .select({ id: signInEvents.id })
      .from(signInEvents)
      .where(eq(signInEvents.userId, ada.userId))
      .orderBy(signInEvents.createdAt);
    await d
      .update(signInEvents)
      .set({ createdAt: sql`now() - interval '91 days'` })
      .where(eq(signInEvents.id, oldEvent!.id));
    await d
      .update(signInEvents)
      .set({ createdAt: sql`now() - interval '89 days'` })
      .where(eq(signInEvents.id, newEvent!.id));

    const session = async (set: Partial<typeof userSessions.$inferInsert>) => {
      const id = await createSession(ada.userId, null, "test");
      await d.update(userSessions).set(set).where(eq(userSessions.id, id));
      return id;
    };
    const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000);
    const revokedLongAgo = await session({ revokedAt: daysAgo(31) });
    const expiredLongAgo = await session({ expiresAt: daysAgo(31) });
    const revokedLately = await session({ revokedAt: daysAgo(29) });
    const activeSinceLongAgo = await session({ createdAt: daysAgo(100) });

    await engine.runCron(pruneSignIns);
    await engine.idle();

    const throttleLeft = await d
      .select({ key: signInThrottle.key })
      .from(signInThrottle)
      .where(like(signInThrottle.key, `%${tag}@example.test`));
    expect(throttleLeft.map((r) => r.key).sort()).toEqual([`account:${recent}`, `account:${waiting}`].sort());
    const eventsLeft = await d
      .select({ id: signInEvents.id })
      .from(signInEvents)
      .where(eq(signInEvents.userId, ada.userId));
    expect(eventsLeft).toEqual([{ id: newEvent!.id }]);
    const sessionsLeft = await d
      .select({ id: userSessions.id })
      .from(userSessions)
      .where(inArray(userSessions.id, [revokedLongAgo, expiredLongAgo, revokedLately, activeSinceLongAgo]));
    expect(sessionsLeft.map((r) => r.id).sort()).toEqual([revokedLately, activeSinceLongAgo].sort());

    // What is left still works: the waiting account still waits.
    await expect(authenticate(waiting, "wrong-password", ipOf(6))).rejects.toThrow(/wait/);
  });
});

import "server-only";
import { and, eq, gt, inArray, sql } from "drizzle-orm";
import { signInThrottle } from "@/db/schema";
import { db } from "../db";
import { AppError } from "../errors";

// Failures within a window before that key is locked for the same length of time.
const windowMinutes = 15;
const limits = { account: 5, ip: 20 };

const keysFor = (email: string, ip: string | null) => ({
  account: `account:${email.toLowerCase()}`,
  ip: ip ? `ip:${ip}` : undefined,
});

/** Refuses while the account or the address is locked, saying when to try again. */
export async function assertSignInAllowed(email: string, ip: string | null): Promise<void> {
  const k = keysFor(email, ip);
  const d = await db();
  const [locked] = await d
    .select({ key: signInThrottle.key, until: signInThrottle.lockedUntil })
    .from(signInThrottle)
    .where(
      and(
        inArray(signInThrottle.key, [k.account, ...(k.ip ? [k.ip] : [])]),
        gt(signInThrottle.lockedUntil, sql`now()`),
      ),
    )
    .limit(1);
  if (locked?.until) {
    const minutes = Math.max(1, Math.ceil((locked.until.getTime() - Date.now()) / 60_000));
    const who = locked.key.startsWith("ip:") ? "from your network" : "for this account";
    throw new AppError(
      "RATE_LIMITED",
      `Too many failed sign-in attempts ${who}. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}, or reset your password.`,
    );
  }
}

export async function recordSignInFailure(email: string, ip: string | null): Promise<void> {
  const k = keysFor(email, ip);
  const d = await db();
  const entries: [string, number][] = [[k.account, limits.account]];
  if (k.ip) entries.push([k.ip, limits.ip]);
  for (const [key, limit] of entries) {
    const stale = sql`${signInThrottle.windowStartedAt} < now() - make_interval(mins => ${windowMinutes})`;
    await d
      .insert(signInThrottle)
      .values({ key, failures: 1 })
      .onConflictDoUpdate({
        target: signInThrottle.key,
        set: {
          failures: sql`case when ${stale} then 1 else ${signInThrottle.failures} + 1 end`,
          windowStartedAt: sql`case when ${stale} then now() else ${signInThrottle.windowStartedAt} end`,
          lockedUntil: sql`case when not ${stale} and ${signInThrottle.failures} + 1 >= ${limit} then now() + make_interval(mins => ${windowMinutes}) else ${signInThrottle.lockedUntil} end`,
        },
      });
  }
}

export async function clearAccountFailures(email: string): Promise<void> {
  const d = await db();
  await d.delete(signInThrottle).where(eq(signInThrottle.key, keysFor(email, null).account));
}

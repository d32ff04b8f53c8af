import "server-only";
import { and, eq, inArray, or, isNull, sql } from "drizzle-orm";
import { signInThrottle } from "@/db/schema";
import { db, deleteInBatches } from "../db";
import { AppError } from "../errors";

/**
 * Failed sign-ins slow an account and an address down instead of locking them: after a few free
 * failures each one makes the next attempt wait, twice as long each time, up to a cap. The right
 * password works as soon as the wait is over (a hard lock let anyone shut a known account out).
 * Failures count for a day from the first one; an account's are cleared by a successful sign-in.
 * A browser that signed in to the account before (a known device) does not wait for the account's
 * failures — those are someone else's guesses — only for its address's.
 */
const policy = {
  account: { free: 3, capSeconds: 300 },
  ip: { free: 10, capSeconds: 900 },
} as const;
const forgetAfterHours = 24;

/** Seconds to wait after the `failures`-th failure: 0 while free, then 1, 2, 4, … up to the cap. */
export function delaySeconds(failures: number, kind: keyof typeof policy): number {
  const { free, capSeconds } = policy[kind];
  return failures <= free ? 0 : Math.min(capSeconds, 2 ** (failures - free - 1));
}

const keysFor = (email: string, ip: string | null) => ({
  account: `account:${email.toLowerCase()}`,
  ip: ip ? `ip:${ip}` : undefined,
});

export class SignInDelayed extends AppError {
  constructor(
    readonly scope: "account" | "ip",
    readonly seconds: number,
    /** Not a wait after failures: another password check of the account is running. */
    busy = false,
  ) {
    const wait = seconds < 90 ? `${seconds} second${seconds === 1 ? "" : "s"}` : `${Math.ceil(seconds / 60)} minutes`;
    super(
      "RATE_LIMITED",
      busy
        ? "Another sign-in to this account is being checked: try again in a few seconds."
        : `Too many failed sign-ins ${scope === "ip" ? "from your network" : "for this account"}: wait ${wait}, then try again (or reset your password).`,
    );
  }
}

/**
 * How long an account stays claimed by one password check (lib/auth/password queues hashes for a
 * few seconds at most): a process that dies mid-check holds the account no longer than this.
 */
const CHECK_SECONDS = 30;

/**
 * Refuses (SignInDelayed) while the account or the address must still wait; checked before any
 * hashing. Unless `knownDevice`, it then claims the account for this one check (until
 * recordSignInFailure, clearAccountFailures or releaseAccount): guesses sent at once would all
 * pass a read made before any of them failed, so they are checked one at a time.
 */
export async function assertSignInAllowed(
  email: string,
  ip: string | null,
  opts: { knownDevice?: boolean } = {},
): Promise<void> {
  const k = keysFor(email, ip);
  const keys = [...(opts.knownDevice ? [] : [k.account]), ...(k.ip ? [k.ip] : [])];
  if (!keys.length) return;
  const d = await db();
  const rows = await d
    .select({
      key: signInThrottle.key,
      seconds: sql<number>`ceil(extract(epoch from ${signInThrottle.lockedUntil} - now()))::int`,
    })
    .from(signInThrottle)
    .where(inArray(signInThrottle.key, keys));
  const waiting = rows.filter((r) => r.seconds > 0).sort((a, b) => b.seconds - a.seconds)[0];
  if (waiting) throw new SignInDelayed(waiting.key.startsWith("ip:") ? "ip" : "account", waiting.seconds);
  if (opts.knownDevice) return;
  if (!(await claimRow(k.account, "checkingUntil", CHECK_SECONDS, "lockedUntil")))
    throw new SignInDelayed("account", 1, true);
}

type Until = "checkingUntil" | "lockedUntil";

/**
 * Claims row `key` (made if new) by setting `column` to `seconds` from now, where it and `also`
 * are unset or past; false while either still runs. Concurrent claims: one wins.
 */
export async function claimRow(key: string, column: Until, seconds: number, also?: Until): Promise<boolean> {
  const t = signInThrottle;
  const until = sql`now() + make_interval(secs => ${seconds})`;
  const lapsed = (c: Until) => or(isNull(t[c]), sql`${t[c]} <= now()`);
  const d = await db();
  const [claimed] = await d
    .insert(t)
    .values({ key, failures: 0, [column]: until })
    .onConflictDoUpdate({
      target: t.key,
      set: { [column]: until },
      setWhere: also ? and(lapsed(column), lapsed(also)) : lapsed(column),
    })
    .returning({ key: t.key });
  return !!claimed;
}

/** Ends this check's claim on the account without counting it (the check could not be made). */
export async function releaseAccount(email: string): Promise<void> {
  const d = await db();
  await d
    .update(signInThrottle)
    .set({ checkingUntil: null })
    .where(eq(signInThrottle.key, keysFor(email, null).account));
}

/** Counts a failure for the account and the address; returns the wait it imposes on each. */
export async function recordSignInFailure(
  email: string,
  ip: string | null,
): Promise<{ account: number; ip: number | null }> {
  const k = keysFor(email, ip);
  const d = await db();
  const waits = { account: 0, ip: null as number | null };
  for (const [kind, key] of [
    ["account", k.account],
    ["ip", k.ip],
  ] as const) {
    if (!key) continue;
    const stale = sql`${signInThrottle.windowStartedAt} < now() - make_interval(hours => ${forgetAfterHours})`;
    const [row] = await d
      .insert(signInThrottle)
      .values({ key, failures: 1 })
      .onConflictDoUpdate({
        target: signInThrottle.key,
        set: {
          failures: sql`case when ${stale} then 1 else ${signInThrottle.failures} + 1 end`,
          windowStartedAt: sql`case when ${stale} then now() else ${signInThrottle.windowStartedAt} end`,
        },
      })
      .returning({ failures: signInThrottle.failures });
    const seconds = delaySeconds(row!.failures, kind);
    // The account's claim by this check ends here, with the wait its failures impose.
    if (seconds > 0 || kind === "account")
      await d
        .update(signInThrottle)
        .set({
          ...(seconds > 0 && { lockedUntil: sql`now() + make_interval(secs => ${seconds})` }),
          ...(kind === "account" && { checkingUntil: null }),
        })
        .where(eq(signInThrottle.key, key));
    waits[kind] = seconds;
  }
  return waits;
}

export async function clearAccountFailures(email: string): Promise<void> {
  const d = await db();
  await d.delete(signInThrottle).where(eq(signInThrottle.key, keysFor(email, null).account));
}

/**
 * Deletes the rows that count nothing any more (the daily prune-sign-ins run): no wait or check
 * running, and a window older than a day, which the next failure would start afresh anyway. The
 * password reset's rows (`reset:`, `reset-ip:`) go the same way.
 */
export async function pruneSignInThrottle(): Promise<number> {
  const t = signInThrottle;
  return deleteInBatches(
    t,
    t.key,
    and(
      sql`${t.windowStartedAt} < now() - make_interval(hours => ${forgetAfterHours})`,
      or(isNull(t.lockedUntil), sql`${t.lockedUntil} <= now()`),
      or(isNull(t.checkingUntil), sql`${t.checkingUntil} <= now()`),
    ),
  );
}

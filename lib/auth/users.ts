import "server-only";
import { and, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import { oauthAccounts, signInEvents, userSessions, users } from "@/db/schema";
import { db, deleteInBatches } from "../db";
import { AppError } from "../errors";
import { createTeamFor } from "../teams/mutations";
import { log } from "../log";
import { isKnownDevice, issueDeviceToken } from "./device";
import { sendVerificationEmail } from "./email-verification";
import { burnPasswordCheck, hashPassword, MAX_PASSWORD_BYTES, verifyPassword } from "./password";
import type { SignUpInput } from "./schemas";
import {
  assertSignInAllowed,
  clearAccountFailures,
  recordSignInFailure,
  releaseAccount,
  SignInDelayed,
} from "./throttle";

const sessionDays = 30;

/** The signed-in person, as lib functions that are not team-scoped receive them. */
export interface UserContext {
  userId: string;
  email: string;
  name: string;
  sessionId: string | null;
  ip: string | null;
}

const userColumns = { id: users.id, email: users.email, name: users.name };

/** Creates the account and its first team (owned by the new user), and sends the link that verifies its address. */
export async function signUp(input: SignUpInput): Promise<{ userId: string; teamSlug: string }> {
  const passwordHash = await hashPassword(input.password);
  const d = await db();
  const created = await d.transaction(async (tx) => {
    const [user] = await tx
      .insert(users)
      .values({ email: input.email, name: input.name, passwordHash })
      .onConflictDoNothing({ target: users.email })
      .returning({ id: users.id });
    if (!user) {
      throw new AppError("CONFLICT", "An account with this e-mail already exists. Sign in instead.", {
        email: ["An account with this e-mail already exists."],
      });
    }
    const team = await createTeamFor(
      tx,
      { userId: user.id, label: input.email, ip: null },
      input.teamName || `${input.name}'s team`,
    );
    return { userId: user.id, teamSlug: team.slug };
  });
  await sendVerificationEmail({ userId: created.userId, email: input.email, name: input.name });
  return created;
}

/**
 * Checks e-mail and password under the per-account and per-address delays. `device` is the
 * browser's known-device token (lib/auth/device): with one for this account the check skips the
 * account's delay and hashes in its own lane. Failures and refusals are recorded (never the
 * password) and logged.
 */
export async function authenticate(email: string, password: string, ip: string | null, device?: string | null) {
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES)
    throw new AppError("VALIDATION", "Passwords are at most 200 characters.", {
      password: ["Use at most 200 characters."],
    });
  const d = await db();
  const [user] = await d
    .select({ ...userColumns, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.email, email));
  const knownDevice = isKnownDevice(device, email, user?.passwordHash);
  try {
    await assertSignInAllowed(email, ip, { knownDevice });
  } catch (err) {
    if (err instanceof SignInDelayed)
      await recordSignInEvent(user?.id, email, ip, "delayed", { scope: err.scope, waitSeconds: err.seconds });
    throw err;
  }
  const lane = knownDevice ? "known-device" : "general";
  let ok: boolean;
  try {
    ok = user?.passwordHash
      ? await verifyPassword(password, user.passwordHash, lane)
      : (await burnPasswordCheck(password), false);
  } catch (err) {
    if (!knownDevice) await releaseAccount(email); // turned away unchecked (a full queue): no failure
    throw err;
  }
  if (!user || !ok) {
    const waits = await recordSignInFailure(email, ip);
    await recordSignInEvent(user?.id, email, ip, "failed", { waitSeconds: waits });
    throw new AppError("UNAUTHENTICATED", "That e-mail and password do not match an account.");
  }
  await clearAccountFailures(email);
  return { id: user.id, email: user.email, name: user.name };
}

/** A known-device token for `email` (lib/auth/device), bound to its present password; null without one. */
export async function newDeviceToken(email: string): Promise<string | null> {
  const d = await db();
  const [user] = await d.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.email, email));
  return user?.passwordHash ? issueDeviceToken(email, user.passwordHash) : null;
}

async function recordSignInEvent(
  userId: string | undefined,
  email: string,
  ip: string | null,
  outcome: "failed" | "delayed",
  details: Record<string, unknown>,
) {
  const d = await db();
  await d.insert(signInEvents).values({ userId, email, ip, outcome, details });
  log.warn(outcome === "failed" ? "sign-in failed" : "sign-in refused: waiting after failures", {
    email,
    ip,
    known: Boolean(userId),
    ...details,
  });
}

/** The account's recent failed and refused sign-ins, newest first (Account page). */
export async function listSignInEvents(u: Pick<UserContext, "userId">, limit = 20) {
  const d = await db();
  return d
    .select({
      outcome: signInEvents.outcome,
      ip: signInEvents.ip,
      details: signInEvents.details,
      createdAt: signInEvents.createdAt,
    })
    .from(signInEvents)
    .where(eq(signInEvents.userId, u.userId))
    .orderBy(sql`${signInEvents.createdAt} desc`)
    .limit(limit);
}

/**
 * A GitHub / Google identity: the linked user, or a new user with their own team. An identity is
 * never attached to an existing password account by e-mail alone (that would let whoever controls
 * the provider account take it over).
 */
export async function userForOAuth(p: { provider: string; providerAccountId: string; email: string; name: string }) {
  const d = await db();
  const [linked] = await d
    .select(userColumns)
    .from(oauthAccounts)
    .innerJoin(users, eq(users.id, oauthAccounts.userId))
    .where(and(eq(oauthAccounts.provider, p.provider), eq(oauthAccounts.providerAccountId, p.providerAccountId)));
  if (linked) return linked;
  const email = p.email.trim().toLowerCase();
  if (!email.includes("@"))
    throw new AppError(
      "VALIDATION",
      `${p.provider} did not share an e-mail address for this account. Sign up with e-mail and password instead.`,
    );
  return d.transaction(async (tx) => {
    const [user] = await tx
      .insert(users)
      .values({ email, name: p.name || email, emailVerifiedAt: new Date() }) // the provider verified it (next-auth.ts)
      .onConflictDoNothing({ target: users.email })
      .returning(userColumns);
    if (!user) throw new AppError("CONFLICT", `An account with ${email} already exists. Sign in with your password.`);
    await tx
      .insert(oauthAccounts)
      .values({ provider: p.provider, providerAccountId: p.providerAccountId, userId: user.id });
    await createTeamFor(tx, { userId: user.id, label: email, ip: null }, `${user.name}'s team`);
    return user;
  });
}

export async function createSession(userId: string, ip: string | null, userAgent: string | null): Promise<string> {
  const d = await db();
  const [row] = await d
    .insert(userSessions)
    .values({
      userId,
      ip,
      userAgent: userAgent?.slice(0, 300),
      expiresAt: new Date(Date.now() + sessionDays * 86_400_000),
    })
    .returning({ id: userSessions.id });
  return row!.id;
}

/** The user behind a session id, or null when it was revoked, expired or never existed. */
export async function userForSession(sessionId: string) {
  const d = await db();
  const [row] = await d
    .select({ ...userColumns, lastSeenAt: userSessions.lastSeenAt })
    .from(userSessions)
    .innerJoin(users, eq(users.id, userSessions.userId))
    .where(and(eq(userSessions.id, sessionId), isNull(userSessions.revokedAt), gt(userSessions.expiresAt, sql`now()`)));
  if (!row) return null;
  if (Date.now() - row.lastSeenAt.getTime() > 5 * 60_000) {
    await d
      .update(userSessions)
      .set({ lastSeenAt: sql`now()` })
      .where(eq(userSessions.id, sessionId));
  }
  return { id: row.id, email: row.email, name: row.name };
}

export async function revokeSession(sessionId: string): Promise<void> {
  const d = await db();
  await d
    .update(userSessions)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(userSessions.id, sessionId), isNull(userSessions.revokedAt)));
}

/** Signs the user out on every device, this one included. Returns how many sessions ended. */
export async function revokeAllSessions(u: UserContext): Promise<number> {
  const d = await db();
  const rows = await d
    .update(userSessions)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(userSessions.userId, u.userId), isNull(userSessions.revokedAt)))
    .returning({ id: userSessions.id });
  return rows.length;
}

export async function listSessions(u: UserContext) {
  const d = await db();
  const rows = await d
    .select({
      id: userSessions.id,
      ip: userSessions.ip,
      userAgent: userSessions.userAgent,
      createdAt: userSessions.createdAt,
      lastSeenAt: userSessions.lastSeenAt,
    })
    .from(userSessions)
    .where(
      and(eq(userSessions.userId, u.userId), isNull(userSessions.revokedAt), gt(userSessions.expiresAt, sql`now()`)),
    )
    .orderBy(sql`${userSessions.lastSeenAt} desc`);
  return rows.map((r) => ({ ...r, current: r.id === u.sessionId }));
}

/** How long failed and refused sign-ins stay listed on the Account page. */
export const SIGN_IN_EVENTS_DAYS = 90;
/** How long a session that ended (signed out, revoked or expired) is kept after. */
export const ENDED_SESSIONS_DAYS = 30;

/** Deletes sign-in events and ended sessions past their days (the daily prune-sign-ins run). */
export async function pruneSignInHistory(): Promise<{ events: number; sessions: number }> {
  const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000);
  const events = await deleteInBatches(
    signInEvents,
    signInEvents.id,
    lt(signInEvents.createdAt, daysAgo(SIGN_IN_EVENTS_DAYS)),
  );
  const ended = daysAgo(ENDED_SESSIONS_DAYS);
  const sessions = await deleteInBatches(
    userSessions,
    userSessions.id,
    or(lt(userSessions.revokedAt, ended), lt(userSessions.expiresAt, ended)),
  );
  return { events, sessions };
}

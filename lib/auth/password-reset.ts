import "server-only";
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { and, eq, isNull, sql } from "drizzle-orm";
import { apiTokens, invitations, userSessions, users } from "@/db/schema";
import { recordAudit } from "../audit/record";
import { db, type Transaction } from "../db";
import { env } from "../env";
import { AppError } from "../errors";
import { log } from "../log";
import { sendMail } from "../mail";
import { removeMembersBroughtIn } from "../teams/mutations";
import { listTeamsOfUserAllTeams } from "../teams/queries";
import { hashPassword } from "./password";
import { authSecret } from "./secret";
import { claimRow, clearAccountFailures } from "./throttle";

/**
 * "Forgot your password?": a link e-mailed to the account's address, `/reset-password/<user id>.<expiry>.<MAC>`,
 * the MAC (HMAC-SHA256 under a key derived from AUTH_SECRET) covering the user, the address, the
 * expiry and the stored password hash, so the link works once (the hash changes when it is used)
 * and not after the password was changed another way. Nothing is stored. Opening it proves the
 * mailbox: it also confirms the address, and ends every session (someone else's, if they had
 * signed up with this address or guessed the password); when the address was never confirmed, it
 * also revokes the API tokens and open invitations that account made, since whoever signed up with
 * it did. Without SMTP the link goes to the server log outside production only: in production the
 * log is no place for a key to any account.
 */
const validMinutes = 60;
const resendAfterSeconds = 60;
const ipEverySeconds = 10;

const macOf = (userId: string, email: string, expires: number, passwordHash: string | null) =>
  createHmac("sha256", Buffer.from(hkdfSync("sha256", authSecret(), "coffer", "coffer password reset", 32)))
    .update(`${userId}\n${email}\n${expires}\n${passwordHash ?? ""}`)
    .digest("base64url");

/**
 * E-mails a reset link to `email` when an account has it, at most once a minute per account and
 * one request per 10 seconds from `ip` (null: unknown, not limited). The answer is the same either
 * way (the caller says "if an account has this address"); the refusals below come before the
 * address is looked up, so they say nothing about it either.
 */
export async function requestPasswordReset(email: string, ip: string | null): Promise<void> {
  if (env().production && !env().SMTP_URL) {
    log.warn("password reset link not sent: SMTP_URL is not set", { email });
    throw new AppError(
      "UPSTREAM",
      "This Coffer cannot send e-mail, so it cannot send you a reset link: ask whoever runs it.",
    );
  }
  if (ip && !(await claimRow(`reset-ip:${ip}`, "lockedUntil", ipEverySeconds)))
    throw new AppError(
      "RATE_LIMITED",
      "Too many reset requests from your network: wait a few seconds, then try again.",
    );
  const d = await db();
  const [user] = await d
    .select({ id: users.id, name: users.name, email: users.email, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.email, email));
  if (!user || !(await claimRow(`reset:${user.email}`, "lockedUntil", resendAfterSeconds))) return;
  const expires = Math.floor(Date.now() / 1000) + validMinutes * 60;
  const token = `${user.id}.${expires}.${macOf(user.id, user.email, expires, user.passwordHash)}`;
  const url = new URL(`/reset-password/${token}`, env().APP_URL).toString();
  const mail = await sendMail({
    to: user.email,
    subject: "Reset your Coffer password",
    text: `Hello ${user.name},\n\nsomeone (we hope you) asked to reset the password of the Coffer account ${user.email}. Choose a new one by opening this link within ${validMinutes} minutes:\n${url}\n\nIt works once, and signs out every session of the account. If you did not ask for it, ignore this message: your password stays as it is.\n`,
  });
  if (mail.sent) return;
  if (env().SMTP_URL) log.warn("password reset link not sent", { userId: user.id, why: mail.why });
  // Not in production (refused above): the developer's own log is where the link can go.
  else log.info("password reset link (SMTP_URL is not set, so it was not sent)", { email: user.email, url });
}

const invalid = () =>
  new AppError(
    "VALIDATION",
    "This reset link is not valid any more: it expired, was used, or the password was changed since. Ask for a new one.",
  );

/**
 * Sets the password of the link's account, confirms its address, ends all its sessions, clears
 * its failed sign-ins and records the reset in the audit log of each of its teams. An address not
 * confirmed until now was someone else's to use: their API tokens and open invitations go too, and
 * the members their invitations brought in.
 */
export async function resetPassword(token: string, newPassword: string, ip: string | null): Promise<{ email: string }> {
  const [userId, expiresText, mac] = token.split(".");
  const expires = Number(expiresText);
  if (!userId || !mac || !Number.isSafeInteger(expires) || expires * 1000 < Date.now()) throw invalid();
  const d = await db();
  const [user] = await d
    .select({ email: users.email, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.id, userId));
  const expected = user ? Buffer.from(macOf(userId, user.email, expires, user.passwordHash)) : Buffer.alloc(0);
  if (!user || expected.length !== Buffer.byteLength(mac) || !timingSafeEqual(expected, Buffer.from(mac)))
    throw invalid();
  const hash = await hashPassword(newPassword);
  const teams = await listTeamsOfUserAllTeams(userId);
  await d.transaction(async (tx) => {
    // Locked: a confirmation committed meanwhile is seen here, not after the update.
    const [before] = await tx
      .select({ emailVerifiedAt: users.emailVerifiedAt })
      .from(users)
      .where(eq(users.id, userId))
      .for("update");
    // Only over the hash the link was made for: the same link used twice at once changes it once.
    const [row] = await tx
      .update(users)
      .set({ passwordHash: hash, emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, now())` })
      .where(
        and(
          eq(users.id, userId),
          eq(users.email, user.email),
          user.passwordHash === null ? isNull(users.passwordHash) : eq(users.passwordHash, user.passwordHash),
        ),
      )
      .returning({ id: users.id });
    if (!row) throw invalid();
    const ended = await tx
      .update(userSessions)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(userSessions.userId, userId), isNull(userSessions.revokedAt)))
      .returning({ id: userSessions.id });
    // A user who forgot their password keeps their tokens; a squatter's go.
    const squatted = !before?.emailVerifiedAt;
    const { tokens, invites } = squatted
      ? await revokeGrantsOfAllTeams(tx, userId, user.email)
      : { tokens: [] as { teamId: string }[], invites: [] as { teamId: string }[] };
    const actor = { userId, label: user.email, ip };
    // And so do the members their invitations brought in, from the teams this account is in.
    const membersRemoved = new Map<string, number>();
    if (squatted)
      for (const team of teams)
        membersRemoved.set(team.id, await removeMembersBroughtIn(tx, { id: team.id, actor }, userId));
    const countIn = (rows: { teamId: string }[], teamId: string) => rows.filter((r) => r.teamId === teamId).length;
    const teamIds = new Set([
      ...teams.map((t) => t.id),
      ...tokens.map((r) => r.teamId),
      ...invites.map((r) => r.teamId),
    ]);
    for (const teamId of teamIds)
      await recordAudit(
        tx,
        { id: teamId, actor },
        {
          action: "account.password_reset",
          target: { type: "user", id: userId, label: user.email },
          details: {
            sessionsEnded: ended.length,
            ...(squatted && {
              apiTokensRevoked: countIn(tokens, teamId),
              invitationsRevoked: countIn(invites, teamId),
              membersRemoved: membersRemoved.get(teamId) ?? 0,
            }),
          },
        },
      );
  });
  await clearAccountFailures(user.email);
  log.info("password reset through the e-mailed link", { userId, ip });
  return { email: user.email };
}

/**
 * The API tokens and open invitations an account made, revoked in every team (one it left
 * included: its tokens would work again if the account rejoined).
 */
async function revokeGrantsOfAllTeams(tx: Transaction, userId: string, email: string) {
  const tokens = await tx
    .update(apiTokens)
    .set({ revokedAt: sql`now()`, revokedBy: email })
    .where(and(eq(apiTokens.createdByUserId, userId), isNull(apiTokens.revokedAt)))
    .returning({ teamId: apiTokens.teamId });
  const invites = await tx
    .update(invitations)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(invitations.invitedBy, userId), isNull(invitations.acceptedAt), isNull(invitations.revokedAt)))
    .returning({ teamId: invitations.teamId });
  return { tokens, invites };
}

import "server-only";
import { and, eq, isNull, ne, sql } from "drizzle-orm";
import { userSessions, users } from "@/db/schema";
import { recordAudit } from "../audit/record";
import { db } from "../db";
import { AppError } from "../errors";
import { log } from "../log";
import { listTeamsOfUserAllTeams } from "../teams/queries";
import { hashPassword, verifyPassword } from "./password";
import type { ChangePasswordInput } from "./schemas";
import { assertSignInAllowed, clearAccountFailures, recordSignInFailure, releaseAccount } from "./throttle";
import type { UserContext } from "./users";

/**
 * Replaces the password once the current one is given (under sign-in's delays, so an unattended
 * session is no way to guess it), signs out every other session, and records the change in the
 * audit log of each of the user's teams. Returns how many other sessions ended.
 */
export async function changePassword(u: UserContext, input: ChangePasswordInput): Promise<{ signedOut: number }> {
  const d = await db();
  const [user] = await d.select({ hash: users.passwordHash }).from(users).where(eq(users.id, u.userId));
  if (!user?.hash)
    throw new AppError("VALIDATION", "This account signs in through another provider: it has no password to change.");
  await assertSignInAllowed(u.email, u.ip);
  const right = await verifyPassword(input.currentPassword, user.hash).catch(async (err: unknown) => {
    await releaseAccount(u.email);
    throw err;
  });
  if (!right) {
    await recordSignInFailure(u.email, u.ip);
    log.warn("password change refused: wrong current password", { userId: u.userId, ip: u.ip });
    throw new AppError("VALIDATION", "That is not your current password.", {
      currentPassword: ["Not your current password."],
    });
  }
  await clearAccountFailures(u.email); // as a sign-in with it would: this also ends the check's claim
  const hash = await hashPassword(input.newPassword);
  const teams = await listTeamsOfUserAllTeams(u.userId);
  return d.transaction(async (tx) => {
    await tx.update(users).set({ passwordHash: hash }).where(eq(users.id, u.userId));
    const others = await tx
      .update(userSessions)
      .set({ revokedAt: sql`now()` })
      .where(
        and(
          eq(userSessions.userId, u.userId),
          isNull(userSessions.revokedAt),
          u.sessionId ? ne(userSessions.id, u.sessionId) : undefined,
        ),
      )
      .returning({ id: userSessions.id });
    for (const team of teams)
      await recordAudit(
        tx,
        { id: team.id, actor: { userId: u.userId, label: u.email, ip: u.ip } },
        {
          action: "account.password_changed",
          target: { type: "user", id: u.userId, label: u.email },
          details: { otherSessionsEnded: others.length },
        },
      );
    return { signedOut: others.length };
  });
}

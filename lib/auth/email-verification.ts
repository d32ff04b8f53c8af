import "server-only";
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import { users } from "@/db/schema";
import { db, type Database, type Transaction } from "../db";
import { env } from "../env";
import { AppError } from "../errors";
import { log } from "../log";
import { sendMail, type MailOutcome } from "../mail";
import { authSecret } from "./secret";

type Account = { userId: string; email: string; name: string };

/**
 * An address is verified when its owner opens a link e-mailed to it: `/verify-email/<user id>.<expiry>.<MAC>`,
 * the MAC (HMAC-SHA256 under a key derived from AUTH_SECRET) covering the user, the address and
 * the expiry, so a link stops working when it expires or the address changes. Nothing is stored.
 * Without SMTP the link goes to the server log (there is no other way to reach the address).
 */
const validHours = 48;
const resendAfterMs = 60_000;

const macOf = (userId: string, email: string, expires: number) =>
  createHmac("sha256", Buffer.from(hkdfSync("sha256", authSecret(), "coffer", "coffer e-mail verification", 32)))
    .update(`${userId}\n${email}\n${expires}`)
    .digest("base64url");

function link(userId: string, email: string, now = Date.now()): string {
  const expires = Math.floor(now / 1000) + validHours * 3600;
  return new URL(`/verify-email/${userId}.${expires}.${macOf(userId, email, expires)}`, env().APP_URL).toString();
}

/**
 * E-mails the link (or logs it without SMTP), at most once a minute per account. Null when it was
 * too soon; otherwise what became of the e-mail.
 */
export async function sendVerificationEmail(u: Account): Promise<MailOutcome | null> {
  const d = await db();
  const [claimed] = await d
    .update(users)
    .set({ emailVerificationSentAt: sql`now()` })
    .where(
      and(
        eq(users.id, u.userId),
        isNull(users.emailVerifiedAt),
        or(
          isNull(users.emailVerificationSentAt),
          lt(users.emailVerificationSentAt, new Date(Date.now() - resendAfterMs)),
        ),
      ),
    )
    .returning({ id: users.id });
  if (!claimed) return null;
  const url = link(u.userId, u.email);
  const mail = await sendMail({
    to: u.email,
    subject: "Confirm your e-mail address for Coffer",
    text: `Hello ${u.name},\n\nconfirm that ${u.email} is your address by opening this link within ${validHours} hours:\n${url}\n\nUntil then you cannot join teams you are invited to or receive notifications. If you did not sign up for Coffer, ignore this message.\n`,
  });
  if (mail.sent) return mail;
  if (env().SMTP_URL) log.warn("e-mail verification link not sent", { userId: u.userId, why: mail.why });
  else log.info("e-mail verification link (SMTP_URL is not set, so it was not sent)", { email: u.email, url });
  return mail;
}

/** Resend from the Account page: says when it is too soon. */
export async function resendVerificationEmail(u: Account): Promise<{ email: string }> {
  if (await isEmailVerified(u.userId)) throw new AppError("CONFLICT", `${u.email} is already confirmed.`);
  const mail = await sendVerificationEmail(u);
  if (!mail)
    throw new AppError("RATE_LIMITED", "A link was sent less than a minute ago. Wait a minute, then send it again.");
  // Without SMTP the link is in the server log, which is where the operator looks.
  if (!mail.sent && env().SMTP_URL)
    throw new AppError(
      "UPSTREAM",
      `The link was not sent: ${mail.why}. Wait a minute and send it again; if it keeps failing, tell whoever runs this Coffer.`,
    );
  return { email: u.email };
}

const invalid = () =>
  new AppError(
    "VALIDATION",
    "This confirmation link is not valid or has expired. Sign in and send a new one from your Account page.",
  );

/** Marks the address of the link's account verified. The link is the proof; no session is needed. */
export async function confirmEmail(token: string): Promise<{ email: string }> {
  const [userId, expiresText, mac] = token.split(".");
  const expires = Number(expiresText);
  if (!userId || !mac || !Number.isSafeInteger(expires) || expires * 1000 < Date.now()) throw invalid();
  const d = await db();
  const [user] = await d.select({ email: users.email }).from(users).where(eq(users.id, userId));
  const expected = user ? Buffer.from(macOf(userId, user.email, expires)) : Buffer.alloc(0);
  if (!user || expected.length !== Buffer.byteLength(mac) || !timingSafeEqual(expected, Buffer.from(mac)))
    throw invalid();
  await d
    .update(users)
    .set({ emailVerifiedAt: sql`now()` })
    .where(and(eq(users.id, userId), eq(users.email, user.email), isNull(users.emailVerifiedAt)));
  return { email: user.email };
}

export async function isEmailVerified(userId: string, q?: Database | Transaction): Promise<boolean> {
  const d = q ?? (await db());
  const [row] = await d.select({ at: users.emailVerifiedAt }).from(users).where(eq(users.id, userId));
  return !!row?.at;
}

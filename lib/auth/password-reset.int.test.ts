import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { signedUpUser } from "@/test/factories";
import { startSmtp } from "@/test/servers/smtp";
import { listAuditEvents } from "../audit/queries";
import { isEmailVerified } from "./email-verification";
import { requestPasswordReset, resetPassword } from "./password-reset";
import { authenticate, createSession, userForSession } from "./users";

let smtp: Awaited<ReturnType<typeof startSmtp>>;

beforeAll(async () => {
  smtp = await startSmtp();
  process.env.SMTP_URL = smtp.url; // before anything reads the configuration
});
afterAll(() => smtp?.stop());

/** The reset links e-mailed to `email`, oldest first. */
function linksTo(email: string): string[] {
  return smtp.messages
    .filter((m) => m.to.includes(email) && m.subject === "Reset your Coffer password")
    .map((m) => m.text.match(/https?:\/\/\S+\/reset-password\/(\S+)/)![1]!);
}

const refused = { code: "VALIDATION", message: expect.stringContaining("This reset link is not valid any more") };

describe("password reset by e-mailed link", () => {
  it("someone who signed up with another's address loses the account to the mailbox's owner", async () => {
    // The squatter signed up first, with a password of their own, and is signed in.
    const squatter = await signedUpUser("Mallory", { verified: false });
    const session = await createSession(squatter.userId, "198.51.100.66", null);

    await requestPasswordReset(squatter.email);
    await requestPasswordReset(squatter.email); // within the minute: no second e-mail
    const links = linksTo(squatter.email);
    expect(links).toHaveLength(1);
    expect(await resetPassword(links[0]!, "the owner's own passphrase", "203.0.113.5")).toEqual({
      email: squatter.email,
    });

    expect(await userForSession(session)).toBeNull(); // every session ended
    await expect(authenticate(squatter.email, squatter.password, "198.51.100.66")).rejects.toMatchObject({
      code: "UNAUTHENTICATED",
    });
    expect((await authenticate(squatter.email, "the owner's own passphrase", "203.0.113.5")).id).toBe(squatter.userId);
    expect(await isEmailVerified(squatter.userId)).toBe(true); // the link proved the mailbox
    const { events } = await listAuditEvents(await squatter.team("admin"), { action: "account.password_reset" });
    expect(events).toMatchObject([{ actor: squatter.email, ip: "203.0.113.5", details: { sessionsEnded: 1 } }]);
    // The link worked once.
    await expect(resetPassword(links[0]!, "another passphrase, later", null)).rejects.toMatchObject(refused);
  });

  it("refuses links that were changed, are for another account, expired, or outlived a password change", async () => {
    const a = await signedUpUser("Al");
    const b = await signedUpUser("Bea");
    await requestPasswordReset(a.email);
    const [link] = linksTo(a.email);
    const [userId, expires, mac] = link!.split(".");
    await expect(
      resetPassword(`${userId}.${Number(expires) + 3600}.${mac}`, "a new passphrase", null),
    ).rejects.toMatchObject(refused);
    await expect(resetPassword(`${b.userId}.${expires}.${mac}`, "a new passphrase", null)).rejects.toMatchObject(
      refused,
    );
    await expect(resetPassword("usr_nobody.1.x", "a new passphrase", null)).rejects.toMatchObject(refused);
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 61 * 60_000 });
    try {
      await expect(resetPassword(link!, "a new passphrase", null)).rejects.toMatchObject(refused);
    } finally {
      vi.useRealTimers();
    }
    // Bea asks, then changes her password another way (a reset): her first link no longer works.
    await requestPasswordReset(b.email);
    const [first] = linksTo(b.email);
    await resetPassword(first!, "bea's second passphrase", null);
    await expect(resetPassword(first!, "bea's third passphrase", null)).rejects.toMatchObject(refused);
    // The old password of Al still works: nothing was changed by the refused links.
    expect((await authenticate(a.email, a.password, null)).id).toBe(a.userId);
  });

  it("an address no account has gets no e-mail, and the answer is the same", async () => {
    await expect(requestPasswordReset("nobody-here@example.test")).resolves.toBeUndefined();
    expect(linksTo("nobody-here@example.test")).toEqual([]);
  });
});

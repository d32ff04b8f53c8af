import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { acceptInvitation, createInvitation } from "@/lib/teams/invitations";
import { signedUpUser } from "@/test/factories";
import { startSmtp } from "@/test/servers/smtp";
import { confirmEmail, isEmailVerified, resendVerificationEmail } from "./email-verification";
import { signUp } from "./users";

let smtp: Awaited<ReturnType<typeof startSmtp>>;

beforeAll(async () => {
  smtp = await startSmtp({ refuse: (a) => a.startsWith("gone-"), defer: (a) => a.startsWith("grey-") });
  process.env.SMTP_URL = smtp.url; // before anything reads the configuration
});
afterAll(() => smtp?.stop());

/** The verification links e-mailed to `email`, oldest first. */
function linksTo(email: string): string[] {
  return smtp.messages
    .filter((m) => m.to.includes(email) && m.subject === "Confirm your e-mail address for Coffer")
    .map((m) => m.text.match(/https?:\/\/\S+\/verify-email\/(\S+)/)![1]!);
}

describe("e-mail verification", () => {
  it("an invitation is accepted only once the invited address is verified through the e-mailed link", async () => {
    const admin = await signedUpUser("Ada");
    const email = `eve-${Date.now()}@example.test`;
    await createInvitation(await admin.team("admin"), { email, role: "member" });
    const inviteLink = smtp.messages.find((m) => m.to.includes(email))!.text;
    const token = inviteLink.match(/\/invite\/([\w-]+)/)![1]!;
    const { userId } = await signUp({ name: "Eve", email, password: "correct horse battery" });
    const actor = { userId, label: email, ip: null };

    expect(await isEmailVerified(userId)).toBe(false);
    await expect(acceptInvitation(actor, email, token)).rejects.toMatchObject({
      code: "FORBIDDEN",
      message: expect.stringContaining(`Confirm that ${email} is yours first`),
    });

    const [link] = linksTo(email);
    expect(await confirmEmail(link!)).toEqual({ email });
    expect(await isEmailVerified(userId)).toBe(true);
    expect(await acceptInvitation(actor, email, token)).toEqual({ teamSlug: admin.teamSlug });
  });

  it("refuses links that were changed, are for another account, or expired", async () => {
    const a = await signedUpUser("Al", { verified: false });
    const b = await signedUpUser("Bea", { verified: false });
    const [link] = linksTo(a.email);
    const [userId, expires, mac] = link!.split(".");
    const refused = { code: "VALIDATION", message: expect.stringContaining("not valid or has expired") };
    await expect(confirmEmail(`${userId}.${Number(expires) + 3600}.${mac}`)).rejects.toMatchObject(refused);
    await expect(confirmEmail(`${b.userId}.${expires}.${mac}`)).rejects.toMatchObject(refused);
    await expect(confirmEmail(`${userId}.${expires}.${mac!.slice(0, -2)}AA`)).rejects.toMatchObject(refused);
    await expect(confirmEmail("usr_nobody.1.x")).rejects.toMatchObject(refused);
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 49 * 3_600_000 });
    try {
      await expect(confirmEmail(link!)).rejects.toMatchObject(refused);
    } finally {
      vi.useRealTimers();
    }
    expect(await isEmailVerified(a.userId)).toBe(false);
    expect(await isEmailVerified(b.userId)).toBe(false);
  });

  it("sends the link again at most once a minute, and not for a verified address", async () => {
    const a = await signedUpUser("Cy", { verified: false });
    const u = { userId: a.userId, email: a.email, name: "Cy" };
    await expect(resendVerificationEmail(u)).rejects.toMatchObject({ code: "RATE_LIMITED" });
    expect(linksTo(a.email)).toHaveLength(1);
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 61_000 });
    try {
      expect(await resendVerificationEmail(u)).toEqual({ email: a.email });
    } finally {
      vi.useRealTimers();
    }
    expect(linksTo(a.email)).toHaveLength(2);
    await confirmEmail(linksTo(a.email)[1]!);
    await expect(resendVerificationEmail(u)).rejects.toMatchObject({ code: "CONFLICT" });
  });

  it("signs up whatever the mail server answers, and says why a link it refused was not sent", async () => {
    const grey = `grey-${Date.now()}@example.test`;
    await signUp({ name: "Gil", email: grey, password: "correct horse battery" });
    expect(linksTo(grey)).toEqual([]);
    const gone = `gone-${Date.now()}@example.test`;
    const { userId } = await signUp({ name: "Gus", email: gone, password: "correct horse battery" });
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 61_000 });
    try {
      await expect(resendVerificationEmail({ userId, email: gone, name: "Gus" })).rejects.toMatchObject({
        code: "UPSTREAM",
        message: expect.stringMatching(/^The link was not sent: the mail server refused it \(550 No such user/),
      });
    } finally {
      vi.useRealTimers();
    }
  });
});

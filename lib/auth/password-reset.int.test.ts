import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { signedUpUser } from "@/test/factories";
import { startSmtp } from "@/test/servers/smtp";
import { callerForTokenAllTeams } from "../api-tokens/resolve";
import { createApiToken } from "../api-tokens/tokens";
import { listAuditEvents } from "../audit/queries";
import { env } from "../env";
import { acceptInvitation, createInvitation, invitationByToken } from "../teams/invitations";
import { transferOwnership } from "../teams/mutations";
import { teamForUser } from "../teams/context";
import { listMembers } from "../teams/queries";
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

/** An address of its own for each test, so the per-address limit of one does not meet another's. */
const someIp = () => `2001:db8::${randomBytes(2).toString("hex")}`;

/** What the log received while `fn` ran. */
async function logged(fn: () => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  const spies = (["log", "warn", "error"] as const).map((m) =>
    vi.spyOn(console, m).mockImplementation((...a: unknown[]) => void lines.push(a.map(String).join(" "))),
  );
  try {
    await fn();
  } finally {
    for (const s of spies) s.mockRestore();
  }
  return lines.join("\n");
}

describe("password reset by e-mailed link", () => {
  it("someone who signed up with another's address loses the account to the mailbox's owner", async () => {
    // The squatter signed up first, with a password of their own, is signed in, made an API token
    // and invited an accomplice.
    const squatter = await signedUpUser("Mallory", { verified: false });
    const session = await createSession(squatter.userId, "198.51.100.66", null);
    const { token } = await createApiToken(await squatter.team("admin"), { name: "ci", scopes: ["read"] });
    const invitation = await createInvitation(await squatter.team("admin"), {
      email: `accomplice-${randomBytes(4).toString("hex")}@example.test`,
      role: "admin",
    });

    await requestPasswordReset(squatter.email, null);
    await requestPasswordReset(squatter.email, null); // within the minute: no second e-mail
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
    expect(events).toMatchObject([
      {
        actor: squatter.email,
        ip: "203.0.113.5",
        details: { sessionsEnded: 1, apiTokensRevoked: 1, invitationsRevoked: 1 },
      },
    ]);
    // What the squatter made stops working.
    await expect(callerForTokenAllTeams(`Bearer ${token}`, null)).rejects.toMatchObject({
      message: expect.stringContaining("revoked"),
    });
    expect(await invitationByToken(invitation.link.split("/invite/")[1]!)).toMatchObject({ status: "revoked" });
    // The link worked once.
    await expect(resetPassword(links[0]!, "another passphrase, later", null)).rejects.toMatchObject(refused);
  });

  it("the members a squatter's invitations brought in, and theirs, leave the squatter's teams; the mailbox's owner owns them", async () => {
    type User = Awaited<ReturnType<typeof signedUpUser>>;
    const invite = async (from: User, slug: string, to: User, role: "admin" | "member") => {
      const { link } = await createInvitation(await teamForUser(from.actor, slug, "admin"), { email: to.email, role });
      await acceptInvitation(to.actor, to.email, link.split("/").at(-1)!);
    };
    const squatter = await signedUpUser("Mallory", { verified: false });
    const [accomplice, recruit, olga] = [
      await signedUpUser("Trent"),
      await signedUpUser("Eve"),
      await signedUpUser("Olga"),
    ];
    await invite(squatter, squatter.teamSlug, accomplice, "admin");
    await invite(accomplice, squatter.teamSlug, recruit, "member"); // brought in by the one brought in
    await invite(olga, olga.teamSlug, recruit, "member"); // a team the squatter is not in
    // The squatter hands the team to the accomplice and stays an admin.
    const members = await listMembers(await squatter.team());
    await transferOwnership(await squatter.team("owner"), members.find((m) => m.userId === accomplice.userId)!.id);

    await requestPasswordReset(squatter.email, null);
    await resetPassword(linksTo(squatter.email)[0]!, "the owner's own passphrase", null);

    const t = await squatter.team("owner");
    expect((await listMembers(t)).map((m) => [m.email, m.role])).toEqual([[squatter.email, "owner"]]);
    await expect(teamForUser(accomplice.actor, squatter.teamSlug, "viewer")).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    const { events } = await listAuditEvents(t, { action: "account.password_reset" });
    expect(events).toMatchObject([{ details: { membersRemoved: 2 } }]);
    expect((await listAuditEvents(t, { action: "member.removed" })).events.map((e) => e.targetLabel).sort()).toEqual(
      [accomplice.email, recruit.email].sort(),
    );
    const promoted = (await listAuditEvents(t, { action: "member.role_changed" })).events;
    expect(promoted).toMatchObject([{ targetLabel: squatter.email, details: { from: "admin", to: "owner" } }]);
    // Elsewhere nothing changed.
    const elsewhere = await listMembers(await olga.team());
    expect(elsewhere.map((m) => m.email).sort()).toEqual([olga.email, recruit.email].sort());
  });

  it("refuses links that were changed, are for another account, expired, or outlived a password change", async () => {
    const a = await signedUpUser("Al");
    const b = await signedUpUser("Bea");
    await requestPasswordReset(a.email, null);
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
    await requestPasswordReset(b.email, null);
    const [first] = linksTo(b.email);
    await resetPassword(first!, "bea's second passphrase", null);
    await expect(resetPassword(first!, "bea's third passphrase", null)).rejects.toMatchObject(refused);
    // The old password of Al still works: nothing was changed by the refused links.
    expect((await authenticate(a.email, a.password, null)).id).toBe(a.userId);
  });

  it("an address no account has gets no e-mail, and the answer is the same", async () => {
    await expect(requestPasswordReset("nobody-here@example.test", null)).resolves.toBeUndefined();
    expect(linksTo("nobody-here@example.test")).toEqual([]);
  });

  it("someone who forgot the password of a confirmed address keeps their API tokens and invitations", async () => {
    const ci = await signedUpUser("Cy");
    const { token } = await createApiToken(await ci.team("admin"), { name: "ci", scopes: ["read"] });
    const invitation = await createInvitation(await ci.team("admin"), {
      email: `colleague-${randomBytes(4).toString("hex")}@example.test`,
      role: "member",
    });
    await requestPasswordReset(ci.email, null);
    await resetPassword(linksTo(ci.email)[0]!, "cy's new passphrase", null);
    expect(await callerForTokenAllTeams(`Bearer ${token}`, null)).toMatchObject({ token: { name: "ci" } });
    expect(await invitationByToken(invitation.link.split("/invite/")[1]!)).toMatchObject({ status: "open" });
    const { events } = await listAuditEvents(await ci.team("admin"), { action: "account.password_reset" });
    expect(events).toMatchObject([{ details: { sessionsEnded: 0 } }]);
    expect(events[0]!.details).not.toHaveProperty("apiTokensRevoked");
  });

  it("one network asks for one link per 10 seconds, whichever the address, without saying whether it has an account", async () => {
    const [a, b] = [await signedUpUser("Di"), await signedUpUser("Ed")];
    const ip = someIp();
    await requestPasswordReset(a.email, ip);
    const limited = {
      code: "RATE_LIMITED",
      message: expect.stringContaining("Too many reset requests from your network"),
    };
    await expect(requestPasswordReset(b.email, ip)).rejects.toMatchObject(limited);
    await expect(requestPasswordReset("nobody-either@example.test", ip)).rejects.toMatchObject(limited);
    expect(linksTo(b.email)).toEqual([]);
    // Another network, and requests whose address is not known (no trusted proxy), are not held up.
    await requestPasswordReset(b.email, someIp());
    expect(linksTo(b.email)).toHaveLength(1);
    const c = await signedUpUser("Flo");
    await requestPasswordReset(c.email, null);
    await requestPasswordReset("nobody-either@example.test", null);
    expect(linksTo(c.email)).toHaveLength(1);
  });

  it("in production without SMTP, the link is neither sent nor logged, and the answer says so for every address", async () => {
    const a = await signedUpUser("Gil");
    const e = env();
    const { production, SMTP_URL } = e;
    Object.assign(e, { production: true, SMTP_URL: undefined });
    const cannot = { code: "UPSTREAM", message: expect.stringContaining("This Coffer cannot send e-mail") };
    try {
      const log = await logged(async () => {
        await expect(requestPasswordReset(a.email, null)).rejects.toMatchObject(cannot);
        await expect(requestPasswordReset("nobody-at-all@example.test", null)).rejects.toMatchObject(cannot);
      });
      expect(log).toContain("password reset link not sent");
      expect(log).not.toContain("/reset-password/");
    } finally {
      Object.assign(e, { production, SMTP_URL });
    }
    expect(linksTo(a.email)).toEqual([]);
  });
});

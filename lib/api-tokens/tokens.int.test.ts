import { describe, expect, it, vi } from "vitest";
import { setApiTokenRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { listAuditEvents } from "../audit/queries";
import { createInvitation, acceptInvitation } from "../teams/invitations";
import { changeMemberRole, removeMember } from "../teams/mutations";
import { listMembers } from "../teams/queries";
import { assertRole, teamForUser } from "../teams/context";
import { callerForTokenAllTeams, requireTokenTeam } from "./resolve";
import { createApiTokenSchema } from "./schemas";
import { createApiToken, hashToken, listApiTokens, revokeApiToken } from "./tokens";

const bearer = (token: string) => `Bearer ${token}`;

describe("team API tokens", () => {
  it("is shown once with a coffer_ prefix and 256 random bits, stored only as its hash, listed and audited", async () => {
    const owner = await signedUpUser("Tina");
    const t = await owner.team("admin");
    const made = await createApiToken(t, { name: "prometheus", scopes: ["metrics:read"], expiresInDays: 30 });
    expect(made.token).toMatch(/^coffer_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(made.token.slice(7), "base64url")).toHaveLength(32);
    expect(made.expiresAt!.getTime() - Date.now()).toBeGreaterThan(29.9 * 86_400_000);
    const [listed] = await listApiTokens(t);
    expect(listed).toMatchObject({
      id: made.id,
      name: "prometheus",
      prefix: made.token.slice(0, 13),
      scopes: ["metrics:read"],
      role: "viewer",
      createdBy: owner.email,
      lastUsedAt: null,
      revokedAt: null,
    });
    const everything = JSON.stringify([await listApiTokens(t), await listAuditEvents(t, {})]);
    expect(everything).not.toContain(made.token);
    expect(everything).not.toContain(hashToken(made.token));
    const audit = await listAuditEvents(t, { action: "api_token" });
    expect(audit.events[0]).toMatchObject({
      action: "api_token.created",
      targetLabel: "prometheus",
      actor: owner.email,
    });
  });

  it("resolves a bearer token to its team, scopes and role, records its last use, and 401s what is missing, malformed, unknown, revoked or expired", async () => {
    const owner = await signedUpUser("Tom");
    const t = await owner.team("admin");
    const { token, id } = await createApiToken(t, { name: "ci", scopes: ["read", "backups:write"] });
    const caller = await callerForTokenAllTeams(bearer(token), "198.51.100.9");
    expect(caller.team).toMatchObject({
      id: t.id,
      slug: t.slug,
      role: "member",
      // Not the creator: the lib reads userId as the signed-in person (inviting, leaving, member changes).
      actor: { userId: null, label: `token ci (${id}, created by ${owner.email})`, onBehalfOfUserId: owner.userId },
    });
    expect(caller.token).toEqual({ id, name: "ci", scopes: ["read", "backups:write"] });
    expect((await listApiTokens(t))[0]).toMatchObject({ lastUsedAt: expect.any(Date), lastUsedIp: "198.51.100.9" });

    const refused = async (authorization: string | null, message: RegExp) =>
      expect(callerForTokenAllTeams(authorization, null)).rejects.toMatchObject({
        code: "UNAUTHENTICATED",
        message: expect.stringMatching(message),
      });
    await refused(null, /Send an API token/);
    await refused(`Basic ${token}`, /Authorization: Bearer coffer_/);
    await refused(bearer("ghp_abc"), /not a Coffer API token/);
    await refused(bearer(`${token.slice(0, -1)}x`), /not valid/);
    await setApiTokenRow(id, { expiresAt: new Date(Date.now() - 1000) });
    await refused(bearer(token), /expired on/);
    await setApiTokenRow(id, { expiresAt: null });
    await revokeApiToken(t, id);
    await refused(bearer(token), /revoked/);
    expect((await listAuditEvents(t, { action: "api_token.revoked" })).events).toHaveLength(1);
  });

  it("never acts beyond its scopes, its creator's role at creation, or its team", async () => {
    const owner = await signedUpUser("Una");
    const t = await owner.team("owner");
    const admin = await signedUpUser("Abe");
    const inv = await createInvitation(t, { email: admin.email, role: "admin" });
    await acceptInvitation(admin.actor, admin.email, inv.link.split("/").at(-1)!);
    const asAdmin = await teamForUser(admin.actor, t.slug, "admin");

    const metrics = await callerForTokenAllTeams(
      bearer((await createApiToken(t, { name: "m", scopes: ["metrics:read"] })).token),
      null,
    );
    expect(requireTokenTeam(metrics, t.slug, "metrics:read").role).toBe("viewer");
    expect(() => requireTokenTeam(metrics, t.slug, "read")).toThrow(/lacks the read scope/);
    expect(() => assertRole(metrics.team, "member")).toThrow(/member role/);
    const other = await signedUpUser("Zed");
    expect(() => requireTokenTeam(metrics, other.teamSlug, "metrics:read")).toThrow(/does not exist/);

    // An admin's token with every scope acts as an admin at most: owner-only work stays refused.
    const wide = await createApiToken(asAdmin, {
      name: "all",
      scopes: ["read", "backups:write", "restores:write", "admin", "metrics:read"],
    });
    const caller = await callerForTokenAllTeams(bearer(wide.token), null);
    expect(caller.team.role).toBe("admin");
    expect(() => assertRole(caller.team, "owner")).toThrow(/owner role/);
    expect((await listAuditEvents(t, { action: "api_token.created" })).events.map((e) => e.actor)).toContain(
      admin.email,
    );

    // Members and viewers cannot make or see tokens.
    const member = await signedUpUser("Meg");
    const invM = await createInvitation(t, { email: member.email, role: "member" });
    await acceptInvitation(member.actor, member.email, invM.link.split("/").at(-1)!);
    const asMember = await teamForUser(member.actor, t.slug);
    await expect(createApiToken(asMember, { name: "x", scopes: ["read"] })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(listApiTokens(asMember)).rejects.toMatchObject({ code: "FORBIDDEN" });
    // Another team cannot revoke it.
    await expect(revokeApiToken(await other.team("owner"), wide.id)).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("is held to its creator's present role, and stops when they leave the team", async () => {
    const owner = await signedUpUser("Vera");
    const t = await owner.team("owner");
    const admin = await signedUpUser("Walt");
    const inv = await createInvitation(t, { email: admin.email, role: "admin" });
    await acceptInvitation(admin.actor, admin.email, inv.link.split("/").at(-1)!);
    const asAdmin = await teamForUser(admin.actor, t.slug, "admin");
    const { token } = await createApiToken(asAdmin, { name: "ops", scopes: ["read", "backups:write", "admin"] });
    expect((await callerForTokenAllTeams(bearer(token), null)).team.role).toBe("admin");
    const memberId = (await listMembers(t)).find((m) => m.email === admin.email)!.id;

    await changeMemberRole(t, { memberId, role: "viewer" });
    const demoted = await callerForTokenAllTeams(bearer(token), null);
    expect(demoted.team.role).toBe("viewer");
    expect((await listApiTokens(t)).find((k) => k.name === "ops")!.role).toBe("viewer");
    expect(() => assertRole(demoted.team, "member")).toThrow(/member role/);
    await changeMemberRole(t, { memberId, role: "admin" });
    expect((await callerForTokenAllTeams(bearer(token), null)).team.role).toBe("admin");

    await removeMember(t, memberId);
    await expect(callerForTokenAllTeams(bearer(token), null)).rejects.toMatchObject({
      code: "UNAUTHENTICATED",
      message: expect.stringMatching(/stopped working when the member who created it left the team/),
    });
    expect((await listApiTokens(t)).find((k) => k.name === "ops")!.role).toBeNull();
    // The owner's own token is untouched.
    const own = await createApiToken(t, { name: "own", scopes: ["read"] });
    expect((await callerForTokenAllTeams(bearer(own.token), null)).team.role).toBe("viewer");
  });

  it("refuses bad input with a message that says what to fix, and a name already in use", async () => {
    const t = await (await signedUpUser("Val")).team("admin");
    const bad = createApiTokenSchema.safeParse({ name: "", scopes: ["write"], expiresInDays: "0" });
    expect(bad.error?.issues.map((i) => i.message)).toEqual(
      expect.arrayContaining([
        "Name the token after where it is used (e.g. prometheus, ci).",
        expect.stringContaining("Unknown scope. Choose from: read, backups:write"),
        "Use 1 to 3650 days.",
      ]),
    );
    expect(
      createApiTokenSchema.parse({ name: "x", scopes: ["read"], expiresInDays: "never" }).expiresInDays,
    ).toBeUndefined();
    await createApiToken(t, { name: "ci", scopes: ["read"] });
    await expect(createApiToken(t, { name: "ci", scopes: ["read"] })).rejects.toMatchObject({
      code: "CONFLICT",
      fieldErrors: { name: ["Already in use."] },
    });
  });

  it("logs nothing of a token", async () => {
    const t = await (await signedUpUser("Wes")).team("admin");
    const lines: string[] = [];
    const spies = (["log", "warn", "error"] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation((...a: unknown[]) => void lines.push(a.map(String).join(" "))),
    );
    try {
      const { token, id } = await createApiToken(t, { name: "quiet", scopes: ["read"] });
      await callerForTokenAllTeams(bearer(token), null);
      await revokeApiToken(t, id);
      await callerForTokenAllTeams(bearer(token), null).catch(() => {});
      expect(lines.join("\n")).not.toContain(token.slice(7));
    } finally {
      for (const s of spies) s.mockRestore();
    }
  });
});

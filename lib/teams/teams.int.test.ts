import { describe, expect, it } from "vitest";
import { signedUpUser } from "@/test/factories";
import { listAuditEvents } from "../audit/queries";
import { AppError } from "../errors";
import { teamForUser } from "./context";
import {
  acceptInvitation,
  createInvitation,
  invitationByToken,
  listOpenInvitations,
  resendInvitation,
  revokeInvitation,
} from "./invitations";
import { changeMemberRole, createTeam, leaveTeam, removeMember, transferOwnership, updateTeam } from "./mutations";
import { listMembers, listTeamsOfUserAllTeams } from "./queries";

const code = (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (e: unknown) => (e instanceof AppError ? e.code : `unexpected: ${String(e)}`),
  );
const tokenOf = (link: string) => link.split("/invite/")[1]!;

/** Owner A invites B with `role`; B accepts. Returns both and B's membership id in A's team. */
async function teamWithMember(role: "admin" | "member" | "viewer") {
  const a = await signedUpUser("Alice");
  const b = await signedUpUser("Bob");
  const inv = await createInvitation(await a.team("admin"), { email: b.email, role });
  await acceptInvitation(b.actor, b.email, tokenOf(inv.link));
  const memberId = (await listMembers(await a.team())).find((m) => m.email === b.email)!.id;
  return { a, b, memberId };
}

describe("teams", () => {
  it("sign-up creates a team owned by the new user", async () => {
    const a = await signedUpUser("Alice");
    const teams = await listTeamsOfUserAllTeams(a.userId);
    expect(teams).toEqual([expect.objectContaining({ slug: a.teamSlug, name: "Alice Ops", role: "owner" })]);
    const second = await createTeam(a.actor, { name: "Alice Ops" });
    expect(second.slug).not.toBe(a.teamSlug); // same name, its own address
    expect((await listTeamsOfUserAllTeams(a.userId)).map((t) => t.slug).sort()).toEqual(
      [a.teamSlug, second.slug].sort(),
    );
  });

  it("never gives a team an address the app uses itself", async () => {
    const a = await signedUpUser("Alice");
    for (const name of ["Sign in", "Account", "API", "Invite"]) {
      const team = await createTeam(a.actor, { name });
      expect(team.slug).toMatch(new RegExp(`^${name.toLowerCase().replace(" ", "-")}-[0-9a-f]{6}$`));
    }
  });

  it("another team behaves exactly like a team that does not exist", async () => {
    const a = await signedUpUser("Alice");
    const b = await signedUpUser("Bob");
    expect(await code(teamForUser(b.actor, a.teamSlug))).toBe("NOT_FOUND");
    expect(await code(teamForUser(b.actor, "no-such-team"))).toBe("NOT_FOUND");
  });

  it("invitation by link: accept joins with the invited role, once, for the invited address only", async () => {
    const a = await signedUpUser("Alice");
    const b = await signedUpUser("Bob");
    const c = await signedUpUser("Carol");
    const ta = await a.team("admin");
    const inv = await createInvitation(ta, { email: b.email, role: "member" });
    expect(inv.mail).toEqual({ sent: false, why: "e-mail is not configured on this Coffer" }); // no SMTP in tests
    expect(await invitationByToken(tokenOf(inv.link))).toMatchObject({
      email: b.email,
      role: "member",
      teamName: "Alice Ops",
      status: "open",
    });
    expect(await code(createInvitation(ta, { email: b.email, role: "viewer" }))).toBe("CONFLICT");

    await expect(acceptInvitation(c.actor, c.email, tokenOf(inv.link))).rejects.toThrow(
      `This invitation is for ${b.email}`,
    );
    expect(await acceptInvitation(b.actor, b.email, tokenOf(inv.link))).toEqual({ teamSlug: a.teamSlug });
    expect((await teamForUser(b.actor, a.teamSlug)).role).toBe("member");
    expect(await code(acceptInvitation(b.actor, b.email, tokenOf(inv.link)))).toBe("NOT_FOUND");
    expect((await invitationByToken(tokenOf(inv.link)))?.status).toBe("accepted");
    expect(await code(createInvitation(ta, { email: b.email, role: "viewer" }))).toBe("CONFLICT"); // already a member
  });

  it("resend replaces the link; revoke kills it", async () => {
    const a = await signedUpUser("Alice");
    const b = await signedUpUser("Bob");
    const ta = await a.team("admin");
    const first = await createInvitation(ta, { email: b.email, role: "viewer" });
    const second = await resendInvitation(ta, first.id);
    expect(second.link).not.toBe(first.link);
    expect(await invitationByToken(tokenOf(first.link))).toBeNull();
    await revokeInvitation(ta, first.id);
    expect((await invitationByToken(tokenOf(second.link)))?.status).toBe("revoked");
    expect(await code(acceptInvitation(b.actor, b.email, tokenOf(second.link)))).toBe("NOT_FOUND");
    expect(await listOpenInvitations(ta)).toEqual([]);
  });

  it("roles: viewers and members cannot manage the team (403)", async () => {
    for (const role of ["viewer", "member"] as const) {
      const { a, b, memberId } = await teamWithMember(role);
      const tb = await teamForUser(b.actor, a.teamSlug);
      expect(await code(teamForUser(b.actor, a.teamSlug, "admin"))).toBe("FORBIDDEN");
      expect(await code(createInvitation(tb, { email: "x@example.test", role: "viewer" }))).toBe("FORBIDDEN");
      expect(await code(changeMemberRole(tb, { memberId, role: "admin" }))).toBe("FORBIDDEN");
      expect(await code(updateTeam(tb, { name: "Taken over", slug: "taken" }))).toBe("FORBIDDEN");
      expect(await code(listAuditEvents(tb, {}))).toBe("FORBIDDEN");
      expect((await teamForUser(b.actor, a.teamSlug)).role).toBe(role); // nothing changed
    }
  });

  it("admins manage members but not owners; only owners grant ownership", async () => {
    const { a, b, memberId } = await teamWithMember("admin");
    const tb = await teamForUser(b.actor, a.teamSlug, "admin");
    const ownerId = (await listMembers(tb)).find((m) => m.email === a.email)!.id;
    expect(await code(changeMemberRole(tb, { memberId: ownerId, role: "viewer" }))).toBe("FORBIDDEN");
    expect(await code(removeMember(tb, ownerId))).toBe("FORBIDDEN");
    expect(await code(changeMemberRole(tb, { memberId, role: "owner" }))).toBe("FORBIDDEN");
    expect(await code(transferOwnership(tb, memberId))).toBe("FORBIDDEN");
    const ta = await a.team("owner");
    await changeMemberRole(ta, { memberId, role: "viewer" });
    expect((await teamForUser(b.actor, a.teamSlug)).role).toBe("viewer");
  });

  it("role changes check the acting user's role as it is when the change is made, not when the request began", async () => {
    const { a, b, memberId } = await teamWithMember("admin");
    const c = await signedUpUser("Carol");
    await acceptInvitation(
      c.actor,
      c.email,
      tokenOf((await createInvitation(await a.team("admin"), { email: c.email, role: "viewer" })).link),
    );
    const carolId = (await listMembers(await a.team())).find((m) => m.email === c.email)!.id;
    const bobAsAdmin = await teamForUser(b.actor, a.teamSlug, "admin"); // resolved while Bob was an admin
    await changeMemberRole(await a.team("owner"), { memberId, role: "viewer" }); // then Alice demotes him
    expect(await code(changeMemberRole(bobAsAdmin, { memberId: carolId, role: "admin" }))).toBe("FORBIDDEN");
    expect(await code(removeMember(bobAsAdmin, carolId))).toBe("FORBIDDEN");
    expect((await listMembers(await a.team())).find((m) => m.id === carolId)!.role).toBe("viewer");
    await removeMember(await a.team("owner"), memberId); // and removed: his old context changes nothing either
    expect(await code(changeMemberRole(bobAsAdmin, { memberId: carolId, role: "member" }))).toBe("FORBIDDEN");
  });

  it("the last owner can neither leave nor be demoted; transfer hands ownership over", async () => {
    const { a, b, memberId } = await teamWithMember("admin");
    const ta = await a.team("owner");
    const ownerId = (await listMembers(ta)).find((m) => m.email === a.email)!.id;
    await expect(leaveTeam(ta)).rejects.toThrow("last owner");
    await expect(changeMemberRole(ta, { memberId: ownerId, role: "admin" })).rejects.toThrow("last owner");

    await transferOwnership(ta, memberId);
    expect((await teamForUser(b.actor, a.teamSlug)).role).toBe("owner");
    expect((await teamForUser(a.actor, a.teamSlug)).role).toBe("admin");
    await leaveTeam(await a.team());
    expect(await code(teamForUser(a.actor, a.teamSlug))).toBe("NOT_FOUND");
  });

  it("a removed member loses access", async () => {
    const { a, b, memberId } = await teamWithMember("member");
    await removeMember(await a.team("admin"), memberId);
    expect(await code(teamForUser(b.actor, a.teamSlug))).toBe("NOT_FOUND");
  });

  it("another team's member and invitation ids are NOT_FOUND and change nothing", async () => {
    const { a, b, memberId } = await teamWithMember("member");
    const pendingInv = await createInvitation(await a.team("admin"), { email: "dave@example.test", role: "viewer" });
    const m = await signedUpUser("Mallory"); // owner of their own team
    const tm = await m.team("owner");
    expect(await code(changeMemberRole(tm, { memberId, role: "viewer" }))).toBe("NOT_FOUND");
    expect(await code(removeMember(tm, memberId))).toBe("NOT_FOUND");
    expect(await code(transferOwnership(tm, memberId))).toBe("NOT_FOUND");
    expect(await code(revokeInvitation(tm, pendingInv.id))).toBe("NOT_FOUND");
    expect(await code(resendInvitation(tm, pendingInv.id))).toBe("NOT_FOUND");
    expect((await teamForUser(b.actor, a.teamSlug)).role).toBe("member");
    expect((await invitationByToken(tokenOf(pendingInv.link)))?.status).toBe("open");
  });

  it("renaming checks the address is free and is audited with before and after", async () => {
    const a = await signedUpUser("Alice");
    const b = await signedUpUser("Bob");
    const ta = await a.team("admin");
    expect(await code(updateTeam(ta, { name: "X", slug: b.teamSlug }))).toBe("CONFLICT");
    await updateTeam(ta, { name: "Renamed", slug: `renamed-${a.userId.slice(-6)}` });
    const t2 = await teamForUser(a.actor, `renamed-${a.userId.slice(-6)}`, "admin");
    const { events } = await listAuditEvents(t2, { action: "team.updated" });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: a.email,
      ip: "203.0.113.7",
      details: { before: { name: "Alice Ops" }, after: { name: "Renamed" } },
    });
  });

  it("every membership, role and invitation change lands in the audit log", async () => {
    const { a, memberId } = await teamWithMember("member");
    const ta = await a.team("owner");
    await changeMemberRole(ta, { memberId, role: "admin" });
    await removeMember(ta, memberId);
    const { events } = await listAuditEvents(ta, {});
    expect(events.map((e) => e.action).sort()).toEqual([
      "invitation.accepted",
      "invitation.created",
      "member.joined",
      "member.removed",
      "member.role_changed",
      "team.created",
    ]);
    expect(events.find((e) => e.action === "member.role_changed")?.details).toEqual({ from: "member", to: "admin" });
  });
});

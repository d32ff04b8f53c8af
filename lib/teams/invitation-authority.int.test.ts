import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { users } from "@/db/schema";
import { signedUpUser } from "@/test/factories";
import { listAuditEvents } from "../audit/queries";
import { db } from "../db";
import { AppError } from "../errors";
import { teamForUser } from "./context";
import { acceptInvitation, createInvitation, invitationByToken, listOpenInvitations } from "./invitations";
import { changeMemberRole, leaveTeam, removeMember, transferOwnership } from "./mutations";
import { listMembers } from "./queries";

const tokenOf = (link: string) => link.split("/invite/")[1]!;
const code = (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (e: unknown) => (e instanceof AppError ? e.code : `unexpected: ${String(e)}`),
  );

/** Owner Alice's team with Bob as an admin (he joined by invitation); Bob's context as an admin. */
async function teamWithAdmin() {
  const alice = await signedUpUser("Alice");
  const bob = await signedUpUser("Bob");
  const inv = await createInvitation(await alice.team("admin"), { email: bob.email, role: "admin" });
  await acceptInvitation(bob.actor, bob.email, tokenOf(inv.link));
  const bobId = (await listMembers(await alice.team())).find((m) => m.email === bob.email)!.id;
  return { alice, bob, bobId, asBob: await teamForUser(bob.actor, alice.teamSlug, "admin") };
}

const lapsed = (team: string) =>
  `The person who invited you can no longer invite people to ${team}, so this invitation no longer works. Ask an admin of ${team} for a new invitation.`;

describe("an invitation holds only while its inviter may invite", () => {
  it("a removed admin's invitation cannot be accepted, and the address can be invited again", async () => {
    const { alice, bob, bobId, asBob } = await teamWithAdmin();
    const alt = await signedUpUser("Bobalt"); // a second address Bob controls
    const inv = await createInvitation(asBob, { email: alt.email, role: "admin" });
    await createInvitation(await alice.team("admin"), { email: "pat@example.test", role: "member" });
    await removeMember(await alice.team("owner"), bobId);

    await expect(acceptInvitation(alt.actor, alt.email, tokenOf(inv.link))).rejects.toThrow(lapsed("Alice Ops"));
    expect(await code(teamForUser(alt.actor, alice.teamSlug))).toBe("NOT_FOUND");
    expect((await invitationByToken(tokenOf(inv.link)))?.status).toBe("revoked");
    expect((await listOpenInvitations(await alice.team("admin"))).map((i) => i.email)).toEqual(["pat@example.test"]);
    const { events } = await listAuditEvents(await alice.team("admin"), { action: "invitation.revoked" });
    expect(events).toEqual([
      expect.objectContaining({ targetLabel: alt.email, details: { inviter: bob.email, inviterRole: null } }),
    ]);

    // What the message says to do works: an admin's new invitation joins.
    const again = await createInvitation(await alice.team("admin"), { email: alt.email, role: "viewer" });
    await acceptInvitation(alt.actor, alt.email, tokenOf(again.link));
    expect((await teamForUser(alt.actor, alice.teamSlug)).role).toBe("viewer");
  });

  it("an admin who left the team leaves no usable invitation behind", async () => {
    const { alice, asBob } = await teamWithAdmin();
    const alt = await signedUpUser("Bobalt");
    const inv = await createInvitation(asBob, { email: alt.email, role: "admin" });
    await leaveTeam(asBob);
    await expect(acceptInvitation(alt.actor, alt.email, tokenOf(inv.link))).rejects.toThrow(lapsed("Alice Ops"));
    expect(await listOpenInvitations(await alice.team("admin"))).toEqual([]);
    expect(await code(teamForUser(alt.actor, alice.teamSlug))).toBe("NOT_FOUND");
  });

  it("a demoted admin's invitations cannot be accepted, nor one made afterwards with the context of before", async () => {
    const { alice, bobId, asBob } = await teamWithAdmin();
    const alt = await signedUpUser("Bobalt");
    const other = await signedUpUser("Vic");
    const asAdmin = await createInvitation(asBob, { email: alt.email, role: "admin" });
    const asViewer = await createInvitation(asBob, { email: other.email, role: "viewer" });
    await changeMemberRole(await alice.team("owner"), { memberId: bobId, role: "member" });

    await expect(acceptInvitation(alt.actor, alt.email, tokenOf(asAdmin.link))).rejects.toThrow(lapsed("Alice Ops"));
    await expect(acceptInvitation(other.actor, other.email, tokenOf(asViewer.link))).rejects.toThrow(
      lapsed("Alice Ops"),
    );
    expect(await listOpenInvitations(await alice.team("admin"))).toEqual([]);

    // A request that began while Bob was an admin still writes an invitation; acceptance refuses it.
    const late = await signedUpUser("Lana");
    const stale = await createInvitation(asBob, { email: late.email, role: "admin" });
    expect((await invitationByToken(tokenOf(stale.link)))?.status).toBe("revoked");
    await expect(acceptInvitation(late.actor, late.email, tokenOf(stale.link))).rejects.toThrow(lapsed("Alice Ops"));
    for (const u of [alt, other, late]) expect(await code(teamForUser(u.actor, alice.teamSlug))).toBe("NOT_FOUND");
  });

  it("an invitation whose inviter's account was deleted cannot be accepted", async () => {
    const { alice, bob, asBob } = await teamWithAdmin();
    const alt = await signedUpUser("Bobalt");
    const inv = await createInvitation(asBob, { email: alt.email, role: "admin" });
    await (await db()).delete(users).where(eq(users.id, bob.userId)); // no product path deletes accounts yet
    await expect(acceptInvitation(alt.actor, alt.email, tokenOf(inv.link))).rejects.toThrow(lapsed("Alice Ops"));
    expect(await code(teamForUser(alt.actor, alice.teamSlug))).toBe("NOT_FOUND");
  });

  it("an inviter who is still an admin (or became one by handing over ownership) keeps their invitations", async () => {
    const { alice, bob, bobId, asBob } = await teamWithAdmin();
    const carol = await signedUpUser("Carol");
    const dave = await signedUpUser("Dave");
    const fromBob = await createInvitation(asBob, { email: carol.email, role: "admin" });
    const fromAlice = await createInvitation(await alice.team("owner"), { email: dave.email, role: "admin" });

    await changeMemberRole(await alice.team("owner"), { memberId: bobId, role: "owner" }); // a promotion
    await transferOwnership(await alice.team("owner"), bobId); // Alice steps down to admin
    expect((await teamForUser(alice.actor, alice.teamSlug)).role).toBe("admin");

    await acceptInvitation(carol.actor, carol.email, tokenOf(fromBob.link));
    await acceptInvitation(dave.actor, dave.email, tokenOf(fromAlice.link));
    expect((await teamForUser(carol.actor, alice.teamSlug)).role).toBe("admin");
    expect((await teamForUser(dave.actor, alice.teamSlug)).role).toBe("admin");
    expect((await teamForUser(bob.actor, alice.teamSlug)).role).toBe("owner");
  });
});

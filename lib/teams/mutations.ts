import "server-only";
import { and, eq, inArray, ne, sql } from "drizzle-orm";
import { randomBytes } from "node:crypto";
import { invitations, memberships, teams, users } from "@/db/schema";
import { recordAudit } from "../audit/record";
import { db, pgCode, type Database, type Transaction } from "../db";
import { AppError, forbidden, notFound } from "../errors";
import { assertRole, inTeam, type Actor, type TeamContext } from "./context";
import { revokeInvitationsOfInviter } from "./invitations";
import type { Role } from "./roles";
import { reservedSlugs, type ChangeRoleInput, type CreateTeamInput, type UpdateTeamInput } from "./schemas";

function slugify(name: string): string {
  const base = name
    .normalize("NFKD")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 30)
    .replace(/-+$/, "");
  return base || "team";
}

/** A team owned by `actor`, with a free slug derived from its name. */
export async function createTeamFor(tx: Database | Transaction, actor: Actor & { userId: string }, name: string) {
  const base = slugify(name);
  for (let attempt = 0; attempt < 5; attempt++) {
    const slug = attempt === 0 && !reservedSlugs.has(base) ? base : `${base}-${randomBytes(3).toString("hex")}`;
    const [team] = await tx
      .insert(teams)
      .values({ slug, name })
      .onConflictDoNothing({ target: teams.slug })
      .returning({ id: teams.id, slug: teams.slug, name: teams.name });
    if (!team) continue;
    await tx.insert(memberships).values({ teamId: team.id, userId: actor.userId, role: "owner" });
    await recordAudit(
      tx,
      { id: team.id, actor },
      { action: "team.created", target: { type: "team", id: team.id, label: name } },
    );
    return team;
  }
  throw new AppError("CONFLICT", "Could not find a free address for that team name; try another name.");
}

export async function createTeam(actor: Actor & { userId: string }, input: CreateTeamInput) {
  const d = await db();
  return d.transaction((tx) => createTeamFor(tx, actor, input.name));
}

export async function updateTeam(t: TeamContext, input: UpdateTeamInput) {
  assertRole(t, "admin");
  const d = await db();
  return d.transaction(async (tx) => {
    const [taken] = await tx
      .select({ id: teams.id })
      .from(teams)
      .where(and(eq(teams.slug, input.slug), ne(teams.id, t.id)));
    if (taken)
      throw new AppError("CONFLICT", "That address is taken; choose another.", { slug: ["That address is taken."] });
    const [team] = await tx
      .update(teams)
      .set({ name: input.name, slug: input.slug })
      .where(eq(teams.id, t.id))
      .returning({ slug: teams.slug, name: teams.name })
      .catch((err: unknown) => {
        if (pgCode(err) === "23505")
          throw new AppError("CONFLICT", "That address is taken; choose another.", {
            slug: ["That address is taken."],
          });
        throw err;
      });
    if (!team) throw notFound("That team");
    await recordAudit(tx, t, {
      action: "team.updated",
      target: { type: "team", id: t.id, label: team.name },
      details: { before: { name: t.name, slug: t.slug }, after: team },
    });
    return team;
  });
}

/** Locks the team's owner rows so two requests cannot both remove "the other" owner. */
async function ownerCount(tx: Transaction, t: Pick<TeamContext, "id">): Promise<number> {
  const rows = await tx
    .select({ id: memberships.id })
    .from(memberships)
    .where(inTeam(memberships, t, eq(memberships.role, "owner")))
    .for("update");
  return rows.length;
}

async function memberForUpdate(tx: Transaction, t: TeamContext, memberId: string) {
  const [m] = await tx
    .select({ id: memberships.id, userId: memberships.userId, role: memberships.role, email: users.email })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(inTeam(memberships, t, eq(memberships.id, memberId)))
    .for("update", { of: memberships });
  if (!m) throw notFound("That member");
  return m;
}

/**
 * The acting user's role as it is now, read and locked inside the transaction that uses it: the
 * context's role was read when the request began, and a demotion or removal since must count.
 */
async function actingRole(tx: Transaction, t: TeamContext): Promise<TeamContext["role"]> {
  if (t.role === "system") return "system";
  const [me] = t.actor.userId
    ? await tx
        .select({ role: memberships.role })
        .from(memberships)
        .where(inTeam(memberships, t, eq(memberships.userId, t.actor.userId)))
        .for("share")
    : [];
  if (!me) throw forbidden("admin");
  return me.role;
}

const lastOwner = () =>
  new AppError("CONFLICT", "This is the team's last owner. Make someone else an owner (or transfer ownership) first.");

/** Admins manage admins, members and viewers; only owners grant, change or take away ownership. */
export async function changeMemberRole(t: TeamContext, input: ChangeRoleInput) {
  assertRole(t, "admin");
  const d = await db();
  return d.transaction(async (tx) => {
    const role = await actingRole(tx, t);
    assertRole({ ...t, role }, "admin");
    const m = await memberForUpdate(tx, t, input.memberId);
    if ((m.role === "owner" || input.role === "owner") && role !== "owner" && role !== "system")
      throw forbidden("owner");
    if (m.role === input.role) return { id: m.id, role: m.role };
    if (m.role === "owner" && (await ownerCount(tx, t)) <= 1) throw lastOwner();
    await tx
      .update(memberships)
      .set({ role: input.role })
      .where(inTeam(memberships, t, eq(memberships.id, m.id)));
    await revokeInvitationsOfInviter(tx, t, { userId: m.userId, label: m.email }, input.role);
    await recordAudit(tx, t, {
      action: "member.role_changed",
      target: { type: "member", id: m.id, label: m.email },
      details: { from: m.role, to: input.role },
    });
    return { id: m.id, role: input.role as Role };
  });
}

export async function removeMember(t: TeamContext, memberId: string) {
  assertRole(t, "admin");
  const d = await db();
  await d.transaction(async (tx) => {
    const role = await actingRole(tx, t);
    assertRole({ ...t, role }, "admin");
    const m = await memberForUpdate(tx, t, memberId);
    if (m.role === "owner" && role !== "owner" && role !== "system") throw forbidden("owner");
    if (m.role === "owner" && (await ownerCount(tx, t)) <= 1) throw lastOwner();
    await tx.delete(memberships).where(inTeam(memberships, t, eq(memberships.id, m.id)));
    await revokeInvitationsOfInviter(tx, t, { userId: m.userId, label: m.email }, null);
    await recordAudit(tx, t, {
      action: "member.removed",
      target: { type: "member", id: m.id, label: m.email },
      details: { role: m.role },
    });
  });
}

/**
 * Removes from team `t` the members that `userId`'s invitations brought in, those theirs brought in
 * in turn, and their open invitations: for an account whose address turned out to be someone
 * else's (lib/auth/password-reset), as its owner invited none of them. Where that leaves the team
 * without an owner, the account becomes one. Returns how many members were removed.
 */
export async function removeMembersBroughtIn(
  tx: Transaction,
  t: Pick<TeamContext, "id" | "actor">,
  userId: string,
): Promise<number> {
  let inviters = [userId];
  let removed = 0;
  while (inviters.length) {
    // The memberships their accepted invitations made: inserted in the acceptance's transaction, at its now().
    const brought = await tx
      .select({ id: memberships.id, userId: memberships.userId, role: memberships.role, email: users.email })
      .from(invitations)
      .innerJoin(
        memberships,
        and(
          eq(memberships.teamId, invitations.teamId),
          eq(memberships.userId, invitations.acceptedBy),
          eq(memberships.createdAt, invitations.acceptedAt),
        ),
      )
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(inTeam(invitations, t, inArray(invitations.invitedBy, inviters), ne(memberships.userId, userId)));
    if (!brought.length) break;
    await tx.delete(memberships).where(
      inTeam(
        memberships,
        t,
        inArray(
          memberships.id,
          brought.map((m) => m.id),
        ),
      ),
    );
    for (const m of brought) {
      await revokeInvitationsOfInviter(tx, t, { userId: m.userId, label: m.email }, null);
      await recordAudit(tx, t, {
        action: "member.removed",
        target: { type: "member", id: m.id, label: m.email },
        details: { role: m.role, why: "invited through an account its e-mail address's owner took back" },
      });
    }
    removed += brought.length;
    inviters = brought.map((m) => m.userId);
  }
  if (removed && (await ownerCount(tx, t)) === 0) {
    const [m] = await tx
      .select({ id: memberships.id, role: memberships.role })
      .from(memberships)
      .where(inTeam(memberships, t, eq(memberships.userId, userId)));
    if (m) {
      await tx
        .update(memberships)
        .set({ role: "owner" })
        .where(inTeam(memberships, t, eq(memberships.id, m.id)));
      await recordAudit(tx, t, {
        action: "member.role_changed",
        target: { type: "member", id: m.id, label: t.actor.label },
        details: { from: m.role, to: "owner", why: "the team had no owner left" },
      });
    }
  }
  return removed;
}

export async function leaveTeam(t: TeamContext) {
  if (!t.actor.userId) throw forbidden("member");
  const userId = t.actor.userId;
  const d = await db();
  await d.transaction(async (tx) => {
    const [m] = await tx
      .select({ id: memberships.id, role: memberships.role })
      .from(memberships)
      .where(inTeam(memberships, t, eq(memberships.userId, userId)))
      .for("update");
    if (!m) throw notFound("That team");
    if (m.role === "owner" && (await ownerCount(tx, t)) <= 1) throw lastOwner();
    await tx.delete(memberships).where(inTeam(memberships, t, eq(memberships.id, m.id)));
    await revokeInvitationsOfInviter(tx, t, { userId, label: t.actor.label }, null);
    await recordAudit(tx, t, { action: "member.left", target: { type: "member", id: m.id, label: t.actor.label } });
  });
}

/**
 * The target becomes an owner and the current owner steps down to admin, in one transaction. The
 * former owner's open invitations stay valid: an admin may invite at every role one can invite at.
 */
export async function transferOwnership(t: TeamContext, memberId: string) {
  assertRole(t, "owner");
  const userId = t.actor.userId;
  const d = await db();
  await d.transaction(async (tx) => {
    assertRole({ ...t, role: await actingRole(tx, t) }, "owner");
    const m = await memberForUpdate(tx, t, memberId);
    if (m.userId === userId) throw new AppError("VALIDATION", "Choose another member to transfer ownership to.");
    await tx
      .update(memberships)
      .set({ role: "owner" })
      .where(inTeam(memberships, t, eq(memberships.id, m.id)));
    if (userId)
      await tx
        .update(memberships)
        .set({ role: "admin" })
        .where(inTeam(memberships, t, eq(memberships.userId, userId)));
    await recordAudit(tx, t, {
      action: "team.ownership_transferred",
      target: { type: "member", id: m.id, label: m.email },
      details: { from: m.role },
    });
  });
}

export async function rememberLastTeam(userId: string, teamId: string) {
  const d = await db();
  await d
    .update(users)
    .set({ lastTeamId: teamId })
    .where(and(eq(users.id, userId), sql`${users.lastTeamId} is distinct from ${teamId}`));
}

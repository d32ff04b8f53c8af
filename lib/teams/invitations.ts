import "server-only";
import { and, desc, eq, isNull, notInArray, sql } from "drizzle-orm";
import { createHash, randomBytes } from "node:crypto";
import { invitations, memberships, teams, users } from "@/db/schema";
import { recordAudit } from "../audit/record";
import { isEmailVerified } from "../auth/email-verification";
import { db, type Database, type Transaction } from "../db";
import { env } from "../env";
import { AppError, notFound } from "../errors";
import { log } from "../log";
import { sendMail, type MailOutcome } from "../mail";
import { assertRole, inTeam, type Actor, type TeamContext } from "./context";
import { mayInvite, roles, type Role } from "./roles";
import type { CreateInvitationInput } from "./schemas";

const validDays = 7;
const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");
const inviteUrl = (token: string) => new URL(`/invite/${token}`, env().APP_URL).toString();

/**
 * The person who vouches for an invitation: it can be accepted only while they may still invite
 * at its role, so one made without a person (an API token, a workflow) would never work.
 */
function inviterOf(t: TeamContext): string {
  if (!t.actor.userId)
    throw new AppError("FORBIDDEN", "Invitations are sent by a person: sign in and invite from Settings → Members.");
  return t.actor.userId;
}

/**
 * The link is returned once (only its hash is stored) and e-mailed when SMTP is configured; when
 * the e-mail did not go, `mail` says why, and the link is the way in.
 */
export interface IssuedInvitation {
  id: string;
  email: string;
  link: string;
  mail: MailOutcome;
}

async function deliver(t: TeamContext, email: string, token: string, role: string): Promise<MailOutcome> {
  const mail = await sendMail({
    to: email,
    subject: `You are invited to ${t.name} on Coffer`,
    text: `${t.actor.label} invited you to join ${t.name} on Coffer as ${role}.\n\nAccept within ${validDays} days: ${inviteUrl(token)}\n`,
  });
  // The admin sees why; the operator, whose mail server it is, finds it here.
  if (!mail.sent && env().SMTP_URL) log.warn("invitation e-mail not sent", { teamId: t.id, why: mail.why });
  return mail;
}

export async function createInvitation(t: TeamContext, input: CreateInvitationInput): Promise<IssuedInvitation> {
  assertRole(t, "admin");
  const invitedBy = inviterOf(t);
  const token = randomBytes(32).toString("base64url");
  const d = await db();
  const id = await d.transaction(async (tx) => {
    const [member] = await tx
      .select({ id: memberships.id })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(inTeam(memberships, t, eq(users.email, input.email)));
    if (member)
      throw new AppError("CONFLICT", `${input.email} is already a member of this team.`, {
        email: ["Already a member."],
      });
    const [row] = await tx
      .insert(invitations)
      .values({
        teamId: t.id,
        email: input.email,
        role: input.role,
        tokenHash: hashToken(token),
        invitedBy,
        expiresAt: new Date(Date.now() + validDays * 86_400_000),
      })
      .onConflictDoNothing()
      .returning({ id: invitations.id });
    if (!row)
      throw new AppError("CONFLICT", `${input.email} already has an open invitation. Resend it instead.`, {
        email: ["Already invited: resend the invitation."],
      });
    await recordAudit(tx, t, {
      action: "invitation.created",
      target: { type: "invitation", id: row.id, label: input.email },
      details: { role: input.role },
    });
    return row.id;
  });
  return { id, email: input.email, link: inviteUrl(token), mail: await deliver(t, input.email, token, input.role) };
}

/**
 * A new link (the old one stops working) valid for another week. Whoever resends it becomes its
 * inviter, as the e-mail says.
 */
export async function resendInvitation(t: TeamContext, invitationId: string): Promise<IssuedInvitation> {
  assertRole(t, "admin");
  const invitedBy = inviterOf(t);
  const token = randomBytes(32).toString("base64url");
  const d = await db();
  const row = await d.transaction(async (tx) => {
    const [r] = await tx
      .update(invitations)
      .set({ tokenHash: hashToken(token), expiresAt: new Date(Date.now() + validDays * 86_400_000), invitedBy })
      .where(
        inTeam(
          invitations,
          t,
          eq(invitations.id, invitationId),
          isNull(invitations.acceptedAt),
          isNull(invitations.revokedAt),
        ),
      )
      .returning({ id: invitations.id, email: invitations.email, role: invitations.role });
    if (!r) throw notFound("That invitation");
    await recordAudit(tx, t, { action: "invitation.resent", target: { type: "invitation", id: r.id, label: r.email } });
    return r;
  });
  return {
    id: row.id,
    email: row.email,
    link: inviteUrl(token),
    mail: await deliver(t, row.email, token, row.role),
  };
}

export async function revokeInvitation(t: TeamContext, invitationId: string) {
  assertRole(t, "admin");
  const d = await db();
  await d.transaction(async (tx) => {
    const [r] = await tx
      .update(invitations)
      .set({ revokedAt: sql`now()` })
      .where(
        inTeam(
          invitations,
          t,
          eq(invitations.id, invitationId),
          isNull(invitations.acceptedAt),
          isNull(invitations.revokedAt),
        ),
      )
      .returning({ id: invitations.id, email: invitations.email });
    if (!r) throw notFound("That invitation");
    await recordAudit(tx, t, {
      action: "invitation.revoked",
      target: { type: "invitation", id: r.id, label: r.email },
    });
  });
}

/**
 * Revokes the open invitations `inviter` sent that their role now (`role`; null once they are no
 * longer a member) does not cover, in the transaction that removes or demotes them, so that
 * nobody keeps a way back in. Acceptance checks the inviter again, for any path that skips this.
 */
export async function revokeInvitationsOfInviter(
  tx: Transaction,
  t: Pick<TeamContext, "id" | "actor">,
  inviter: { userId: string; label: string },
  role: Role | null,
) {
  const stillCovered = role ? roles.filter((r) => mayInvite(role, r)) : [];
  const revoked = await tx
    .update(invitations)
    .set({ revokedAt: sql`now()` })
    .where(
      inTeam(
        invitations,
        t,
        eq(invitations.invitedBy, inviter.userId),
        isNull(invitations.acceptedAt),
        isNull(invitations.revokedAt),
        stillCovered.length ? notInArray(invitations.role, stillCovered) : undefined,
      ),
    )
    .returning({ id: invitations.id, email: invitations.email });
  for (const r of revoked)
    await recordAudit(tx, t, {
      action: "invitation.revoked",
      target: { type: "invitation", id: r.id, label: r.email },
      details: { inviter: inviter.label, inviterRole: role },
    });
}

/** Invitations not yet accepted or revoked, without those whose inviter may no longer invite at their role (they no longer work). */
export async function listOpenInvitations(t: TeamContext) {
  const d = await db();
  const rows = await d
    .select({
      id: invitations.id,
      email: invitations.email,
      role: invitations.role,
      createdAt: invitations.createdAt,
      expiresAt: invitations.expiresAt,
      inviterRole: memberships.role,
    })
    .from(invitations)
    .leftJoin(
      memberships,
      and(eq(memberships.teamId, invitations.teamId), eq(memberships.userId, invitations.invitedBy)),
    )
    .where(inTeam(invitations, t, isNull(invitations.acceptedAt), isNull(invitations.revokedAt)))
    .orderBy(desc(invitations.createdAt));
  return rows.flatMap(({ inviterRole, ...r }) => (inviterRole && mayInvite(inviterRole, r.role) ? [r] : []));
}

export type InvitationStatus = "open" | "expired" | "revoked" | "accepted";

/**
 * The invitation a link's token names, whichever team it is for (the token is the key, so this
 * crosses teams on purpose); locked for the acceptance with `forUpdate`. One whose inviter may no
 * longer invite at its role (removed, demoted, account deleted) counts as revoked. Removing or
 * demoting an inviter revokes their invitations in the same transaction, which waits for this
 * lock, so an acceptance sees either the inviter's old role or the revocation.
 */
async function invitationOfTokenAllTeams(q: Database | Transaction, token: string, forUpdate = false) {
  const query = q
    .select({
      id: invitations.id,
      teamId: invitations.teamId,
      email: invitations.email,
      role: invitations.role,
      teamName: teams.name,
      teamSlug: teams.slug,
      invitedBy: users.name,
      inviterRole: memberships.role,
      expiresAt: invitations.expiresAt,
      acceptedAt: invitations.acceptedAt,
      revokedAt: invitations.revokedAt,
    })
    .from(invitations)
    .innerJoin(teams, eq(teams.id, invitations.teamId))
    .leftJoin(users, eq(users.id, invitations.invitedBy))
    .leftJoin(
      memberships,
      and(eq(memberships.teamId, invitations.teamId), eq(memberships.userId, invitations.invitedBy)),
    )
    .where(eq(invitations.tokenHash, hashToken(token)));
  const [row] = await (forUpdate ? query.for("update", { of: invitations }) : query);
  if (!row) return null;
  const { inviterRole, ...invitation } = row;
  const inviterLapsed = !row.acceptedAt && !(inviterRole && mayInvite(inviterRole, row.role));
  const status: InvitationStatus =
    row.revokedAt || inviterLapsed
      ? "revoked"
      : row.acceptedAt
        ? "accepted"
        : row.expiresAt < new Date()
          ? "expired"
          : "open";
  return { ...invitation, inviterLapsed, status };
}

/** What the invitation page shows before the person accepts; null for an unknown token. */
export async function invitationByToken(token: string) {
  const row = await invitationOfTokenAllTeams(await db(), token);
  if (!row) return null;
  const { email, role, teamName, teamSlug, invitedBy, expiresAt, status } = row;
  return { email, role, teamName, teamSlug, invitedBy, expiresAt, status };
}

/**
 * Joins the team. The invitation is for one e-mail address: a different signed-in account is
 * refused, and so is one that has not verified that it owns the address. Its inviter must still
 * be a member who may invite at its role, checked under the invitation's lock.
 */
export async function acceptInvitation(actor: Actor & { userId: string }, email: string, token: string) {
  const d = await db();
  return d.transaction(async (tx) => {
    const inv = await invitationOfTokenAllTeams(tx, token, true);
    if (inv?.inviterLapsed)
      throw new AppError(
        "NOT_FOUND",
        `The person who invited you can no longer invite people to ${inv.teamName}, so this invitation no longer works. Ask an admin of ${inv.teamName} for a new invitation.`,
      );
    if (!inv || inv.status !== "open")
      throw new AppError("NOT_FOUND", "This invitation link is no longer valid. Ask the team's admin to resend it.");
    if (inv.email !== email.toLowerCase()) {
      throw new AppError("FORBIDDEN", `This invitation is for ${inv.email}. Sign in with that address to accept it.`);
    }
    if (!(await isEmailVerified(actor.userId, tx)))
      throw new AppError(
        "FORBIDDEN",
        `Confirm that ${inv.email} is yours first: open the link Coffer e-mailed to it (your Account page sends a new one), then accept the invitation.`,
      );
    const [m] = await tx
      .insert(memberships)
      .values({ teamId: inv.teamId, userId: actor.userId, role: inv.role })
      .onConflictDoNothing()
      .returning({ id: memberships.id });
    const team = { id: inv.teamId, actor };
    await tx
      .update(invitations)
      .set({ acceptedAt: sql`now()`, acceptedBy: actor.userId })
      .where(inTeam(invitations, team, eq(invitations.id, inv.id)));
    await recordAudit(tx, team, {
      action: "invitation.accepted",
      target: { type: "invitation", id: inv.id, label: inv.email },
    });
    if (m)
      await recordAudit(tx, team, {
        action: "member.joined",
        target: { type: "member", id: m.id, label: inv.email },
        details: { role: inv.role },
      });
    return { teamSlug: inv.teamSlug };
  });
}

import "server-only";
import { and, eq, type SQL } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import { memberships, teams } from "@/db/schema";
import { db } from "../db";
import { forbidden, notFound } from "../errors";
import { roleAtLeast, type Role } from "./roles";

/** Who acts, for the audit log. */
export interface Actor {
  userId: string | null;
  label: string;
  ip: string | null;
}

/** A resolved tenant. Every lib function that touches team data takes one as its first argument. */
export interface TeamContext {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  /** "system" for workflows: it passes every role check. */
  readonly role: Role | "system";
  readonly actor: Actor;
}

/** The team of `slug` if `actor` is a member; otherwise NOT_FOUND, exactly like a team that does not exist. */
export async function teamForUser(
  actor: Actor & { userId: string },
  slug: string,
  min: Role = "viewer",
): Promise<TeamContext> {
  const d = await db();
  const [row] = await d
    .select({ id: teams.id, slug: teams.slug, name: teams.name, role: memberships.role })
    .from(teams)
    .innerJoin(memberships, and(eq(memberships.teamId, teams.id), eq(memberships.userId, actor.userId)))
    .where(eq(teams.slug, slug));
  if (!row) throw notFound("That team");
  const t: TeamContext = { ...row, actor };
  assertRole(t, min);
  return t;
}

/** A tenant for work nobody is signed in for (workflows, API tokens); the reason goes in the audit log. */
export async function systemTeam(teamId: string, reason: string): Promise<TeamContext> {
  const d = await db();
  const [row] = await d
    .select({ id: teams.id, slug: teams.slug, name: teams.name })
    .from(teams)
    .where(eq(teams.id, teamId));
  if (!row) throw notFound("That team");
  return systemContext(row, reason);
}

/** The system tenant of a team row already read (inside a transaction, say). */
export function systemContext(team: { id: string; slug: string; name: string }, reason: string): TeamContext {
  return { ...team, role: "system", actor: { userId: null, label: `system: ${reason}`, ip: null } };
}

export function assertRole(t: TeamContext, min: Role): void {
  if (t.role !== "system" && !roleAtLeast(t.role, min)) throw forbidden(min);
}

/** The tenant condition, to be part of the same statement as the rest of the query. */
export function inTeam(
  table: PgTable & { teamId: PgColumn },
  t: Pick<TeamContext, "id">,
  ...conditions: (SQL | undefined)[]
): SQL {
  return and(eq(table.teamId, t.id), ...conditions)!;
}

export function requireRow<T>(row: T | undefined, what: string): T {
  if (row === undefined) throw notFound(what);
  return row;
}

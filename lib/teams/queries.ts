import "server-only";
import { asc, eq } from "drizzle-orm";
import { memberships, teams, users } from "@/db/schema";
import { db } from "../db";
import { inTeam, type TeamContext } from "./context";

export async function listTeamsOfUserAllTeams(userId: string) {
  const d = await db();
  return d
    .select({ id: teams.id, slug: teams.slug, name: teams.name, role: memberships.role })
    .from(memberships)
    .innerJoin(teams, eq(teams.id, memberships.teamId))
    .where(eq(memberships.userId, userId))
    .orderBy(asc(teams.name));
}

/** The team to open after sign-in: the last one used, else the first. */
export async function homeTeamSlug(userId: string): Promise<string | null> {
  const d = await db();
  const [user] = await d.select({ lastTeamId: users.lastTeamId }).from(users).where(eq(users.id, userId));
  const mine = await listTeamsOfUserAllTeams(userId);
  return (mine.find((t) => t.id === user?.lastTeamId) ?? mine[0])?.slug ?? null;
}

export async function listMembers(t: TeamContext) {
  const d = await db();
  return d
    .select({
      id: memberships.id,
      userId: users.id,
      name: users.name,
      email: users.email,
      role: memberships.role,
      joinedAt: memberships.createdAt,
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(inTeam(memberships, t))
    .orderBy(asc(users.email));
}

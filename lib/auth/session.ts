import "server-only";
import { cache } from "react";
import { AppError } from "../errors";
import { clientIp } from "../web/request";
import { assertRole, teamForUser, type TeamContext } from "../teams/context";
import type { Role } from "../teams/roles";
import { auth } from "./next-auth";
import { userForSession, type UserContext } from "./users";

/** The signed-in user of this request (once per request), or null. A revoked session is no session. */
export const currentUser = cache(async (): Promise<UserContext | null> => {
  const session = await auth();
  if (!session?.sid) return null;
  const user = await userForSession(session.sid);
  if (!user) return null;
  return { userId: user.id, email: user.email, name: user.name, sessionId: session.sid, ip: await clientIp() };
});

export async function requireUser(): Promise<UserContext> {
  const user = await currentUser();
  if (!user) throw new AppError("UNAUTHENTICATED", "Sign in to continue.");
  return user;
}

const memberTeam = cache(async (slug: string): Promise<TeamContext> => {
  const u = await requireUser();
  return teamForUser({ userId: u.userId, label: u.email, ip: u.ip }, slug, "viewer");
});

/**
 * The tenant of this request: the signed-in user must be a member of `slug` (else NOT_FOUND, like a
 * team that does not exist) with at least `min` (else FORBIDDEN).
 */
export async function requireTeam(slug: string, min: Role = "viewer"): Promise<TeamContext> {
  const t = await memberTeam(slug);
  assertRole(t, min);
  return t;
}

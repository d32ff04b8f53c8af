import { randomBytes } from "node:crypto";
import { signUp } from "@/lib/auth/users";
import { markEmailVerified } from "./arrange";
import { teamForUser, type Actor } from "@/lib/teams/context";
import type { Role } from "@/lib/teams/roles";

/**
 * A user signed up through the real sign-up path, with the team it created; its address verified
 * unless `verified: false`.
 */
export async function signedUpUser(name = "Ada", { verified = true } = {}) {
  const email = `${name.toLowerCase()}-${randomBytes(4).toString("hex")}@example.test`;
  const password = `pw-${randomBytes(8).toString("hex")}`;
  const { userId, teamSlug } = await signUp({ name, email, password, teamName: `${name} Ops` });
  if (verified) await markEmailVerified(userId);
  const actor: Actor & { userId: string } = { userId, label: email, ip: "203.0.113.7" };
  return {
    userId,
    email,
    password,
    actor,
    teamSlug,
    team: (min: Role = "viewer") => teamForUser(actor, teamSlug, min),
  };
}

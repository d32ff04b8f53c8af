import { roleAtLeast, type Role } from "../teams/roles";

/**
 * What a team API token may do. A request needs the scope its route names; the token also acts
 * with a role, the smallest of its creator's role when it was made and what its widest scope needs
 * (`read` and `metrics:read` a viewer's, the two write scopes a member's, `admin` an admin's), held
 * to its creator's present role (`actingRole`), so the lib's own role checks hold for tokens
 * exactly as for people.
 */
export const scopes = ["read", "backups:write", "restores:write", "admin", "metrics:read"] as const;
export type Scope = (typeof scopes)[number];

export const scopeInfo: Record<Scope, { label: string; role: Role }> = {
  read: { label: "Read servers, schedules, backups, storage and settings", role: "viewer" },
  "backups:write": { label: "Run, cancel and upload backups", role: "member" },
  "restores:write": { label: "Restore and verify backups", role: "member" },
  admin: { label: "Manage servers, sources, destinations, schedules, webhooks and members", role: "admin" },
  "metrics:read": { label: "Scrape Prometheus metrics", role: "viewer" },
};

/** The role a token acts with: never above its creator's role at creation, nor above its scopes' needs. */
export function tokenRole(creatorRole: Role, granted: readonly Scope[]): Role {
  const needed = granted.map((s) => scopeInfo[s].role).reduce<Role>((a, b) => (roleAtLeast(b, a) ? b : a), "viewer");
  return roleAtLeast(creatorRole, needed) ? needed : creatorRole;
}

/**
 * The role a token acts with now: its own, lowered to its creator's present role (`creatorRole`,
 * null when they are no longer a member); null when its creator left the team, which stops it.
 * A token whose creator is not on record (`createdByUserId` null) keeps its own role.
 */
export function actingRole(
  token: { role: Role; createdByUserId: string | null },
  creatorRole: Role | null,
): Role | null {
  if (token.createdByUserId === null) return token.role;
  if (creatorRole === null) return null;
  return roleAtLeast(creatorRole, token.role) ? token.role : creatorRole;
}

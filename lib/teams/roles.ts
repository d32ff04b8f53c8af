export const roles = ["viewer", "member", "admin", "owner"] as const;
export type Role = (typeof roles)[number];

export const roleAtLeast = (role: Role, min: Role) => roles.indexOf(role) >= roles.indexOf(min);

/**
 * Whether a member with `role` may invite someone as `invited`: admins and owners invite, and
 * nobody above their own role (only owners grant ownership). An invitation holds only while its
 * inviter still may.
 */
export const mayInvite = (role: Role, invited: Role) => roleAtLeast(role, "admin") && roleAtLeast(role, invited);

/**
 * What each role may do: the README's permission table is this list, and every lib function
 * checks the same minimum role through requireTeam / assertRole.
 */
export const permissions = [
  { action: "See servers, schedules, backups, storage and members", min: "viewer" },
  { action: "Run, download, restore and verify backups; manage servers, sources and schedules", min: "member" },
  { action: "Manage storage destinations, webhooks and API tokens", min: "admin" },
  { action: "Accept a server's changed SSH host key", min: "admin" },
  { action: "Invite people, change roles (up to admin), remove members, revoke invitations", min: "admin" },
  { action: "Rename the team; read the audit log", min: "admin" },
  { action: "Make someone an owner, transfer ownership, change or remove owners", min: "owner" },
] as const satisfies readonly { action: string; min: Role }[];

export const roleLabels: Record<Role, string> = { viewer: "Viewer", member: "Member", admin: "Admin", owner: "Owner" };

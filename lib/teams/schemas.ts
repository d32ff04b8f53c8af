import { z } from "zod";
import { idOf } from "../ids";
import { emailSchema } from "../auth/schemas";
import { roles } from "./roles";

export const teamNameSchema = z.string().trim().min(1, "Enter a team name.").max(60, "Use at most 60 characters.");
export const teamSlugSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(
    /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/,
    "Use 1–40 lower-case letters, digits and dashes, not starting or ending with a dash.",
  )
  .refine((s) => !reservedSlugs.has(s), "That address is reserved; choose another.");

// First path segments the app uses itself.
export const reservedSlugs = new Set([
  "api",
  "sign-in",
  "sign-up",
  "invite",
  "teams",
  "account",
  "_next",
  "settings",
  "new",
  "help",
  "verify-email",
  "forgot-password",
  "reset-password",
]);

export const createTeamSchema = z.object({ name: teamNameSchema });
export type CreateTeamInput = z.infer<typeof createTeamSchema>;

export const updateTeamSchema = z.object({ name: teamNameSchema, slug: teamSlugSchema });
export type UpdateTeamInput = z.infer<typeof updateTeamSchema>;

const roleSchema = z.enum(roles, "Choose a role.");
export const invitableRoleSchema = roleSchema.refine((r) => r !== "owner", "Invite as admin, then transfer ownership.");

export const createInvitationSchema = z.object({ email: emailSchema, role: invitableRoleSchema });
export type CreateInvitationInput = z.infer<typeof createInvitationSchema>;

const memberIdSchema = idOf("mem", "member");
const invitationIdSchema = idOf("inv", "invitation");

export const changeRoleSchema = z.object({ memberId: memberIdSchema, role: roleSchema });
export type ChangeRoleInput = z.infer<typeof changeRoleSchema>;
export const memberRefSchema = z.object({ memberId: memberIdSchema });
export const invitationRefSchema = z.object({ invitationId: invitationIdSchema });

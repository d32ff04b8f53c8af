"use server";
import { changePassword } from "@/lib/auth/change-password";
import { changePasswordSchema } from "@/lib/auth/schemas";
import { userAction } from "@/lib/web/action";
import { preferencesSchema, setMutedMail } from "@/lib/notifications/preferences";
import { createTeam } from "@/lib/teams/mutations";
import { createTeamSchema } from "@/lib/teams/schemas";

export const createTeamAction = userAction(createTeamSchema, (u, input) =>
  createTeam({ userId: u.userId, label: u.email, ip: u.ip }, input),
);

export const setMailPreferencesAction = userAction(preferencesSchema, setMutedMail);

export const changePasswordAction = userAction(changePasswordSchema, changePassword);

"use server";
import { updateTeamRetention } from "@/lib/retention/policies";
import { retentionSchema } from "@/lib/retention/schemas";
import { setTrashDays } from "@/lib/trash/mutations";
import { addTeamKeySchema, teamKeyRefSchema } from "@/lib/openpgp/schemas";
import { addTeamKey, removeTeamKey } from "@/lib/openpgp/team-keys";
import { trashDaysSchema } from "@/lib/trash/schemas";
import { z } from "zod";
import { teamAction } from "@/lib/web/action";
import { createInvitation, resendInvitation, revokeInvitation } from "@/lib/teams/invitations";
import { changeMemberRole, leaveTeam, removeMember, transferOwnership, updateTeam } from "@/lib/teams/mutations";
import {
  changeRoleSchema,
  createInvitationSchema,
  invitationRefSchema,
  memberRefSchema,
  updateTeamSchema,
} from "@/lib/teams/schemas";

// Each lib function checks the exact role itself (e.g. only owners touch ownership); the
// minimum here is the first gate.
export const updateTeamAction = teamAction(updateTeamSchema, "admin", updateTeam);
export const leaveTeamAction = teamAction(z.object({}), "viewer", (t) => leaveTeam(t));
export const inviteAction = teamAction(createInvitationSchema, "admin", createInvitation);
export const resendInvitationAction = teamAction(invitationRefSchema, "admin", (t, i) =>
  resendInvitation(t, i.invitationId),
);
export const revokeInvitationAction = teamAction(invitationRefSchema, "admin", (t, i) =>
  revokeInvitation(t, i.invitationId),
);
export const changeRoleAction = teamAction(changeRoleSchema, "admin", changeMemberRole);
export const removeMemberAction = teamAction(memberRefSchema, "admin", (t, i) => removeMember(t, i.memberId));
export const transferOwnershipAction = teamAction(memberRefSchema, "owner", (t, i) => transferOwnership(t, i.memberId));
export const updateTeamRetentionAction = teamAction(retentionSchema, "admin", updateTeamRetention);
export const setTrashDaysAction = teamAction(trashDaysSchema, "admin", (t, i) => setTrashDays(t, i.days));
export const addTeamKeyAction = teamAction(addTeamKeySchema, "admin", async (t, i) => {
  const k = await addTeamKey(t, i);
  return { id: k.id, fingerprint: k.fingerprint };
});
export const removeTeamKeyAction = teamAction(teamKeyRefSchema, "admin", (t, i) => removeTeamKey(t, i.keyId));

"use server";
import { requestRetrieval } from "@/lib/backups/download";
import { cancelBackup, removeFailedUpload, requestBackup } from "@/lib/backups/mutations";
import { backupRefSchema, requestBackupSchema } from "@/lib/backups/schemas";
import { deleteFromTrash, restoreFromTrash, trashBackup } from "@/lib/trash/mutations";
import { teamAction } from "@/lib/web/action";
import { dispatch } from "@/lib/workflows/dispatch";

export const backUpNowAction = teamAction(requestBackupSchema, "member", async (t, input) => {
  const { id } = await requestBackup(t, input);
  await dispatch.backupRequested({ teamId: t.id, serverId: input.serverId, backupId: id });
  return { id };
});

export const cancelBackupAction = teamAction(backupRefSchema, "member", (t, input) => cancelBackup(t, input.backupId));

/** Clears a failed upload (it stored nothing) from the list. */
export const removeFailedUploadAction = teamAction(backupRefSchema, "member", (t, input) =>
  removeFailedUpload(t, input.backupId),
);

/** The Download button's POST for a backup whose copies are all in archive storage (see requestRetrieval). */
export const requestRetrievalAction = teamAction(backupRefSchema, "member", (t, input) =>
  requestRetrieval(t, input.backupId),
);

/** Deleting a backup moves it to the trash; its copies stay for the team's grace period. */
export const deleteBackupAction = teamAction(backupRefSchema, "admin", (t, input) => trashBackup(t, input.backupId));
export const restoreFromTrashAction = teamAction(backupRefSchema, "admin", (t, input) =>
  restoreFromTrash(t, input.backupId),
);
export const deleteFromTrashAction = teamAction(backupRefSchema, "admin", (t, input) =>
  deleteFromTrash(t, input.backupId),
);

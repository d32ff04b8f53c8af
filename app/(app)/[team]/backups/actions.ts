"use server";
import { backupEvent } from "@/inngest/events";
import { sendEvents } from "@/inngest/send";
import { requestRetrieval } from "@/lib/backups/download";
import { cancelBackup, requestBackup } from "@/lib/backups/mutations";
import { backupRefSchema, requestBackupSchema } from "@/lib/backups/schemas";
import { log } from "@/lib/log";
import { teamAction } from "@/lib/web/action";

export const backUpNowAction = teamAction(requestBackupSchema, "member", async (t, input) => {
  const { id } = await requestBackup(t, input);
  // The backup is queued either way: if the event cannot be sent now, the sweeper sends it again.
  await sendEvents([backupEvent({ teamId: t.id, serverId: input.serverId, backupId: id })]).catch((err: unknown) =>
    log.warn("backup dispatch failed; the sweeper retries it", { backupId: id, err }),
  );
  return { id };
});

export const cancelBackupAction = teamAction(backupRefSchema, "member", (t, input) => cancelBackup(t, input.backupId));

/** The Download button's POST for a backup whose copies are all in archive storage (see requestRetrieval). */
export const requestRetrievalAction = teamAction(backupRefSchema, "member", (t, input) =>
  requestRetrieval(t, input.backupId),
);

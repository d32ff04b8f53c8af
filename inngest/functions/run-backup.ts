import { failRun } from "@/lib/backups/fail";
import { claimRun, transferBackup } from "@/lib/backups/transfer";
import { verificationAfterBackup } from "@/lib/restores/mutations";
import { scopeOfBackup } from "@/lib/retention/apply";
import { inngest } from "../client";
import { mapped } from "../errors";
import { backupRequested, restoreEvent, retentionEvent } from "../events";
import { sendEvents } from "../send";

/** Concurrent backups per team; one per server at any time. */
export const BACKUPS_PER_TEAM = 3;

/**
 * Runs one queued backup: claim it (a finished or cancelled backup is left alone, so a repeated
 * event does nothing), then archive → encrypt → upload in one streamed step. Transient failures
 * are retried (the step starts over and overwrites its own objects); when retries run out, or the
 * failure is permanent, `onFailure` marks the backup failed and removes what it wrote.
 */
export const runBackup = inngest.createFunction(
  {
    id: "run-backup",
    triggers: [backupRequested],
    retries: 3,
    idempotency: "event.data.backupId",
    concurrency: [
      { key: "event.data.serverId", limit: 1 },
      { key: "event.data.teamId", limit: BACKUPS_PER_TEAM },
    ],
    onFailure: async ({ event, error, step }) => {
      const { teamId, backupId } = event.data.event.data;
      await step.run("mark-failed", () => mapped({ backupId }, () => failRun(teamId, backupId, error.message)));
    },
  },
  async ({ event, step }) => {
    const { teamId, backupId } = event.data;
    const attempt = await step.run("claim-run", () => mapped({ backupId }, () => claimRun(teamId, backupId)));
    if (!attempt) return { backupId, skipped: true };
    const stored = await step.run("dump-encrypt-upload", () =>
      mapped({ backupId }, () => transferBackup(teamId, backupId, attempt)),
    );
    // The new backup may let older ones of its schedule (or server) expire.
    await step.run("request-retention", () =>
      mapped({ backupId }, async () =>
        sendEvents([retentionEvent(teamId, await scopeOfBackup(teamId, backupId), backupId)]),
      ),
    );
    // A schedule verifies its backups unless told not to.
    await step.run("request-verification", () =>
      mapped({ backupId }, async () => {
        const v = await verificationAfterBackup(teamId, backupId);
        if (v) await sendEvents([restoreEvent({ teamId, serverId: v.serverId, restoreId: v.id, kind: "verify" })]);
      }),
    );
    return { backupId, ...stored };
  },
);

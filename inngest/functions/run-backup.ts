import { failRun } from "@/lib/backups/fail";
import { transferBackup } from "@/lib/backups/transfer";
import { verificationAfterBackup } from "@/lib/restores/mutations";
import { scopeOfBackup } from "@/lib/retention/apply";
import { inngest } from "../client";
import { mapped } from "../errors";
import { backupRequested, restoreEvent, retentionEvent } from "../events";

/** Concurrent backups per team; one per server at any time. */
export const BACKUPS_PER_TEAM = 3;

/**
 * Runs one queued backup: one streamed step claims it and archives → encrypts → uploads, retried
 * from the start on transient failures. A failed or cancelled one is left alone; for one that
 * succeeded the step answers what it stored, and the retention and verification requests after
 * it are idempotent. When retries run out or the failure is permanent, `onFailure` marks it failed
 * and removes what it wrote.
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
    const stored = await step.run("dump-encrypt-upload", () =>
      mapped({ backupId }, () => transferBackup(teamId, backupId)),
    );
    if (!stored) return { backupId, skipped: true };
    // The new backup may let older ones of its schedule (or server) expire.
    const scope = await step.run("scope-of-backup", () => mapped({ backupId }, () => scopeOfBackup(teamId, backupId)));
    await step.sendEvent("request-retention", retentionEvent(teamId, scope, backupId));
    // A schedule verifies its backups unless told not to.
    const verification = await step.run("request-verification", () =>
      mapped({ backupId }, () => verificationAfterBackup(teamId, backupId)),
    );
    if (verification)
      await step.sendEvent(
        "dispatch-verification",
        restoreEvent({ teamId, serverId: verification.serverId, restoreId: verification.id, kind: "verify" }),
      );
    return { backupId, ...stored };
  },
);

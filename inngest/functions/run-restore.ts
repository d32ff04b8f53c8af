import { claimRestore, failRestore, performRestore } from "@/lib/restores/run";
import { inngest } from "../client";
import { mapped } from "../errors";
import { notificationEvent, restoreRequested, verificationRequested } from "../events";
import { sendEvents } from "../send";

const notify = (type: Parameters<typeof notificationEvent>[0], data: { teamId: string; restoreId: string; backupId: string }) => sendEvents([notificationEvent(type, data)]);

/**
 * Runs one queued restore of a database or folders: claim it (a finished or cancelled job is left
 * alone), then stream, load and swap into place in one step. One restore per target server at a
 * time. When retries run out or the failure is permanent, `onFailure` marks it failed and drops
 * its scratch database.
 */
export const runRestore = inngest.createFunction(
  {
    id: "run-restore",
    triggers: [restoreRequested],
    retries: 2,
    idempotency: "event.data.restoreId",
    concurrency: [{ key: "event.data.serverId", limit: 1 }],
    onFailure: async ({ event, error, step }) => {
      const { teamId, restoreId } = event.data.event.data;
      const status = await step.run("mark-failed", () => mapped({ restoreId }, () => failRestore(teamId, restoreId, error.message)));
      if (status.status === "failed") await step.run("notify", () => mapped({ restoreId }, () => notify("restore.failed", { teamId, restoreId, backupId: status.backupId })));
    },
  },
  async ({ event, step }) => {
    const { teamId, restoreId } = event.data;
    const claimed = await step.run("claim", () => mapped({ restoreId }, () => claimRestore(teamId, restoreId)));
    if (!claimed) return { restoreId, skipped: true };
    const outcome = await step.run("restore", () => mapped({ restoreId }, () => performRestore(teamId, restoreId)));
    await step.run("notify", () => mapped({ restoreId }, () => notify("restore.succeeded", { teamId, restoreId, backupId: outcome.backupId })));
    return { restoreId, ...outcome };
  },
);

/**
 * Runs one queued verification: every dump into a scratch database (dropped on every path) and
 * counted, every file checked against the manifest. One per verification server at a time.
 * Differences are a result, not an error: the job ends "failed" with them, and a
 * `verification.failed` notification goes out, as it does when the job itself fails.
 */
export const runVerification = inngest.createFunction(
  {
    id: "run-verification",
    triggers: [verificationRequested],
    retries: 2,
    idempotency: "event.data.restoreId",
    concurrency: [{ key: "event.data.serverId", limit: 1 }],
    onFailure: async ({ event, error, step }) => {
      const { teamId, restoreId } = event.data.event.data;
      const status = await step.run("mark-failed", () => mapped({ restoreId }, () => failRestore(teamId, restoreId, error.message)));
      if (status.status === "failed") await step.run("notify", () => mapped({ restoreId }, () => notify("verification.failed", { teamId, restoreId, backupId: status.backupId })));
    },
  },
  async ({ event, step }) => {
    const { teamId, restoreId } = event.data;
    const claimed = await step.run("claim", () => mapped({ restoreId }, () => claimRestore(teamId, restoreId)));
    if (!claimed) return { restoreId, skipped: true };
    const outcome = await step.run("verify", () => mapped({ restoreId }, () => performRestore(teamId, restoreId)));
    if (outcome.kind === "verify" && !outcome.verified) await step.run("notify", () => mapped({ restoreId }, () => notify("verification.failed", { teamId, restoreId, backupId: outcome.backupId })));
    return { restoreId, ...outcome };
  },
);

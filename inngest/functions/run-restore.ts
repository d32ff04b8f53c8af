import { failRestore } from "@/lib/restores/fail";
import type { RestoreOutcome } from "@/lib/restores/job";
import { claimRestore, performRestore } from "@/lib/restores/perform";
import { inngest } from "../client";
import { mapped } from "../errors";
import { notificationEvent, restoreRequested, verificationRequested } from "../events";
import { sendEvents } from "../send";

type Notification = Parameters<typeof notificationEvent>[0];

/**
 * One job of the `restores` table, one per target server at a time: in one streamed step, claim
 * it (a finished or cancelled job is left alone, so a repeated event does nothing), then read,
 * load and check. When retries run out or the failure is permanent, `onFailure` marks it failed
 * and drops its scratch database. `notify` says which notification a finished job sends.
 */
function restoreWorkflow(o: {
  id: string;
  trigger: typeof restoreRequested | typeof verificationRequested;
  step: string;
  failed: Notification;
  notify: (outcome: RestoreOutcome) => Notification | null;
}) {
  return inngest.createFunction(
    {
      id: o.id,
      triggers: [o.trigger],
      retries: 2,
      idempotency: "event.data.restoreId",
      concurrency: [{ key: "event.data.serverId", limit: 1 }],
      onFailure: async ({ event, error, step }) => {
        const { teamId, restoreId } = event.data.event.data;
        const status = await step.run("mark-failed", () =>
          mapped({ restoreId }, () => failRestore(teamId, restoreId, error.message)),
        );
        if (status.status === "failed")
          await step.run("notify", () =>
            mapped({ restoreId }, () =>
              sendEvents([notificationEvent(o.failed, { teamId, restoreId, backupId: status.backupId })]),
            ),
          );
      },
    },
    async ({ event, step }) => {
      const { teamId, restoreId } = event.data;
      // Each execution of the step claims the job anew: an earlier one still going stops writing.
      const outcome = await step.run(o.step, () =>
        mapped({ restoreId }, async () => {
          const attempt = await claimRestore(teamId, restoreId);
          return attempt === null ? null : performRestore(teamId, restoreId, attempt);
        }),
      );
      if (!outcome) return { restoreId, skipped: true };
      const type = o.notify(outcome);
      if (type)
        await step.run("notify", () =>
          mapped({ restoreId }, () =>
            sendEvents([notificationEvent(type, { teamId, restoreId, backupId: outcome.backupId })]),
          ),
        );
      return { restoreId, ...outcome };
    },
  );
}

/** Restores a database (into a scratch database renamed into place) or folders. */
export const runRestore = restoreWorkflow({
  id: "run-restore",
  trigger: restoreRequested,
  step: "restore",
  failed: "restore.failed",
  notify: () => "restore.succeeded",
});

/**
 * Verifies a backup: every dump into a scratch database (dropped on every path) and counted, every
 * file checked against the manifest. Differences are a result, not an error: the job ends "failed"
 * with them and `verification.failed` goes out, as it does when the job itself fails.
 */
export const runVerification = restoreWorkflow({
  id: "run-verification",
  trigger: verificationRequested,
  step: "verify",
  failed: "verification.failed",
  notify: (outcome) => (outcome.kind === "verify" && !outcome.verified ? "verification.failed" : null),
});

import { claimRestore, failRestore, performRestore } from "@/lib/restores/run";
import { inngest } from "../client";
import { mapped } from "../errors";
import { restoreRequested, verificationRequested } from "../events";

/**
 * One job of the `restores` table, one per target server at a time: in one streamed step, claim
 * it (a finished or cancelled job is left alone, so a repeated event does nothing), then read,
 * load and check. When retries run out or the failure is permanent, `onFailure` marks it failed
 * and drops its scratch database. The lib functions produce the notification events.
 */
function restoreWorkflow(o: {
  id: string;
  trigger: typeof restoreRequested | typeof verificationRequested;
  step: string;
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
        await step.run("mark-failed", () => mapped({ restoreId }, () => failRestore(teamId, restoreId, error.message)));
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
      return { restoreId, ...outcome };
    },
  );
}

/** Restores a database (into a scratch database renamed into place) or folders. */
export const runRestore = restoreWorkflow({
  id: "run-restore",
  trigger: restoreRequested,
  step: "restore",
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
});

import { failRestore } from "@/lib/restores/fail";
import { claimRestore, performRestore } from "@/lib/restores/perform";
import { inngest } from "./client";
import { mapped } from "./errors";
import type { restoreRequested, verificationRequested } from "./events";

/**
 * A workflow for one kind of job of the `restores` table (functions/run-restore.ts,
 * functions/run-verification.ts), one per target server at a time. One streamed step claims the
 * job (a finished or cancelled one is left alone, so a repeated event does nothing) and runs it.
 * When retries run out or the failure is permanent, `onFailure` marks it failed and drops its
 * scratch database. Notifications are lib's (emitted where a job ends).
 */
export function restoreWorkflow(o: {
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

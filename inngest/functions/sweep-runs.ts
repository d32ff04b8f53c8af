import { sweepStaleRuns } from "@/lib/backups/run";
import { inngest } from "../client";
import { mapped } from "../errors";
import { backupEvent } from "../events";
import { sendEvents } from "../send";

/**
 * Every minute: fails runs a dead process left "running" (removing their objects), and dispatches
 * again backups queued for a while whose event may have been lost (the run is idempotent on the id).
 */
export const sweepRuns = inngest.createFunction({ id: "sweep-runs", triggers: [{ cron: "* * * * *" }], retries: 2, concurrency: [{ limit: 1 }] }, async ({ step }) => {
  const swept = await step.run("fail-stale-runs", () => mapped({}, () => sweepStaleRuns()));
  if (swept.requeue.length) await step.run("redispatch-queued", () => mapped({}, () => sendEvents(swept.requeue.map(backupEvent))));
  return { failed: swept.failed, redispatched: swept.requeue.length };
});

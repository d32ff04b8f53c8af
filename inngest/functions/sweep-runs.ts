import { sweepStaleRunsAllTeams } from "@/lib/backups/sweep";
import { sweepRestoresAllTeams } from "@/lib/restores/sweep";
import { inngest } from "../client";
import { mapped } from "../errors";
import { backupEvent, restoreEvent } from "../events";

/**
 * Every minute: fails backups, restores and verifications a dead process left "running" (removing
 * their objects and scratch databases), drops scratch databases still on record, and dispatches
 * again jobs queued for a while whose event may have been lost (runs are idempotent on the id).
 */
export const sweepRuns = inngest.createFunction(
  { id: "sweep-runs", triggers: [{ cron: "* * * * *" }], retries: 2, concurrency: [{ limit: 1 }] },
  async ({ step }) => {
    const swept = await step.run("fail-stale-runs", () =>
      // The hour names its redispatches (events.ts), the same on a replay of this run: a job that
      // waits its turn for hours is sent again once an hour, not every minute.
      mapped({}, async () => ({ ...(await sweepStaleRunsAllTeams()), at: new Date().toISOString().slice(0, 13) })),
    );
    const restores = await step.run("fail-stale-restores", () => mapped({}, () => sweepRestoresAllTeams()));
    const events = [
      ...swept.requeue.map((b) => backupEvent(b, swept.at)),
      ...restores.requeue.map((r) => restoreEvent(r, swept.at)),
    ];
    if (events.length) await step.sendEvent("redispatch-queued", events);
    return { failed: swept.failed + restores.failed, scratchDropped: restores.dropped, redispatched: events.length };
  },
);

import { applyRetention, retentionScopes } from "@/lib/retention/apply";
import { inngest } from "../client";
import { mapped } from "../errors";
import { retentionEvent, retentionRequested } from "../events";
import { sendEvents } from "../send";

/**
 * Applies one scope's retention policy: expires what no rule keeps (deleting every copy) and moves
 * kept copies to their tier's storage class. One run per scope at a time.
 */
export const applyRetentionFn = inngest.createFunction(
  {
    id: "apply-retention",
    triggers: [retentionRequested],
    retries: 3,
    concurrency: [{ key: "event.data.scope", limit: 1 }],
  },
  async ({ event, step }) => {
    const { teamId, scope } = event.data;
    return step.run("expire-and-transition", () =>
      mapped({ teamId, scope }, () =>
        applyRetention(teamId, scope.startsWith("sch_") ? { scheduleId: scope } : { serverId: scope }),
      ),
    );
  },
);

/** Daily, for every team: each schedule and each server's unscheduled backups. */
export const retentionDaily = inngest.createFunction(
  { id: "retention-daily", triggers: [{ cron: "30 3 * * *" }], retries: 2 },
  async ({ step }) => {
    const day = new Date().toISOString().slice(0, 10);
    const scopes = await step.run("list-scopes", () => mapped({}, () => retentionScopes()));
    await step.run("dispatch", () =>
      mapped({}, () =>
        sendEvents(
          scopes.map(({ teamId, ...scope }) =>
            retentionEvent(teamId, scope as { scheduleId: string } | { serverId: string }, day),
          ),
        ),
      ),
    );
    return { scopes: scopes.length };
  },
);

import { applyRetention } from "@/lib/retention/apply";
import { inngest } from "../client";
import { mapped } from "../errors";
import { retentionRequested } from "../events";

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

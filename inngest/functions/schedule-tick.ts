import { claimDueSchedulesAllTeams } from "@/lib/schedules/due";
import { inngest } from "../client";
import { mapped } from "../errors";
import { backupEvent } from "../events";

/**
 * Every minute: each due schedule becomes one queued backup for its slot (the database refuses a
 * second backup for the same slot), dispatched with a deterministic event id.
 */
export const scheduleTick = inngest.createFunction(
  { id: "schedule-tick", triggers: [{ cron: "* * * * *" }], retries: 2, concurrency: [{ limit: 1 }] },
  async ({ step }) => {
    const due = await step.run("claim-due-schedules", () => mapped({}, () => claimDueSchedulesAllTeams()));
    if (!due.length) return { dispatched: 0 };
    await step.sendEvent("dispatch-backups", due.map(backupEvent));
    return { dispatched: due.length };
  },
);

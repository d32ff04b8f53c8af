import { claimDueSchedulesAllTeams } from "@/lib/schedules/due";
import { inngest } from "../client";
import { mapped } from "../errors";
import { backupEvent } from "../events";

/**
 * Every minute: the due schedules become one queued backup each for their slot (the database
 * refuses a second backup for the same slot), claimed a batch at a time in set-based statements
 * and each batch dispatched with deterministic event ids, until none is left.
 */
export const scheduleTick = inngest.createFunction(
  { id: "schedule-tick", triggers: [{ cron: "* * * * *" }], retries: 2, concurrency: [{ limit: 1 }] },
  async ({ step }) => {
    let dispatched = 0;
    for (let more = true; more;) {
      const claim = await step.run("claim-due-schedules", () => mapped({}, () => claimDueSchedulesAllTeams()));
      if (claim.due.length)
        await step.sendEvent(
          "dispatch-backups",
          claim.due.map((b) => backupEvent(b)),
        );
      dispatched += claim.due.length;
      more = claim.more;
    }
    return { dispatched };
  },
);

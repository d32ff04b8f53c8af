import { channelsWithDueDeliveriesAllTeams } from "@/lib/webhooks/deliver";
import { inngest } from "../client";
import { mapped } from "../errors";
import { channelDeliveryEvent, deliveriesQueued } from "../events";

/**
 * Every minute, and at once when lib reports new deliveries: starts a delivery run for each
 * channel with deliveries due (the queue is the notification_deliveries table, so nothing is lost
 * across restarts and retries come due by time, not by sleeping workflows).
 */
export const dispatchNotifications = inngest.createFunction(
  {
    id: "dispatch-notifications",
    triggers: [{ cron: "* * * * *" }, deliveriesQueued],
    retries: 1,
    concurrency: [{ limit: 1 }],
  },
  async ({ step }) => {
    const due = await step.run("find-due-channels", () => mapped({}, () => channelsWithDueDeliveriesAllTeams()));
    if (due.length) await step.sendEvent("dispatch-channels", due.map(channelDeliveryEvent));
    return { channels: due.length };
  },
);

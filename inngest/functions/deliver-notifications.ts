import { deliverChannel } from "@/lib/webhooks/deliver";
import { inngest } from "../client";
import { mapped } from "../errors";
import { channelDeliveryRequested } from "../events";

/**
 * Delivers what is due for one channel (signed webhook, chat or e-mail), a few requests at a time,
 * for up to 50 s; retries are rows coming due again. One run per channel at a time: a slow or dead
 * endpoint only ever delays itself.
 */
export const deliverNotifications = inngest.createFunction(
  {
    id: "deliver-notifications",
    triggers: [channelDeliveryRequested],
    retries: 2,
    concurrency: [{ key: "event.data.channelId", limit: 1 }],
  },
  async ({ event, step }) => {
    const { teamId, channelId } = event.data;
    return step.run("deliver-due", () => mapped({ channelId }, () => deliverChannel(teamId, channelId)));
  },
);

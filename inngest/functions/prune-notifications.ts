import { pruneNotificationsAllTeams } from "@/lib/webhooks/prune";
import { inngest } from "../client";
import { mapped } from "../errors";

/** Daily: the delivery log keeps 30 days. */
export const pruneNotifications = inngest.createFunction(
  { id: "prune-notifications", triggers: [{ cron: "45 3 * * *" }], retries: 2 },
  async ({ step }) => step.run("delete-old-deliveries", () => mapped({}, () => pruneNotificationsAllTeams())),
);

import { pruneSignInThrottle } from "@/lib/auth/throttle";
import { pruneSignInHistory } from "@/lib/auth/users";
import { inngest } from "../client";
import { mapped } from "../errors";

/**
 * Daily: the sign-in throttle's rows once they count nothing, failed sign-ins after 90 days,
 * ended sessions after 30. Each sign-in, failed or not, adds a row; nothing else removes them.
 */
export const pruneSignIns = inngest.createFunction(
  { id: "prune-sign-ins", triggers: [{ cron: "55 3 * * *" }], retries: 2 },
  async ({ step }) => {
    const throttle = await step.run("delete-stale-throttle-rows", () => mapped({}, () => pruneSignInThrottle()));
    const history = await step.run("delete-old-sign-ins", () => mapped({}, () => pruneSignInHistory()));
    return { throttle, ...history };
  },
);

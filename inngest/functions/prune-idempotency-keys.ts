import { pruneIdempotencyKeysAllTeams } from "@/lib/api-tokens/idempotency";
import { inngest } from "../client";
import { mapped } from "../errors";

/** Daily: an API Idempotency-Key answers for 24 hours; older ones are deleted. */
export const pruneIdempotencyKeys = inngest.createFunction(
  { id: "prune-idempotency-keys", triggers: [{ cron: "50 3 * * *" }], retries: 2 },
  async ({ step }) => step.run("delete-expired-keys", () => mapped({}, () => pruneIdempotencyKeysAllTeams())),
);

import { retentionScopesAllTeams } from "@/lib/retention/apply";
import type { RetentionScope } from "@/lib/workflows/events";
import { inngest } from "../client";
import { mapped } from "../errors";
import { retentionEvent } from "../events";

/** Daily, for every team: applies retention to each schedule and each server's unscheduled backups. */
export const retentionDaily = inngest.createFunction(
  { id: "retention-daily", triggers: [{ cron: "30 3 * * *" }], retries: 2 },
  async ({ step }) => {
    const day = new Date().toISOString().slice(0, 10);
    const scopes = await step.run("list-scopes", () => mapped({}, () => retentionScopesAllTeams()));
    if (scopes.length)
      await step.sendEvent(
        "dispatch",
        scopes.map(({ teamId, ...scope }) => retentionEvent(teamId, scope as RetentionScope, day)),
      );
    return { scopes: scopes.length };
  },
);

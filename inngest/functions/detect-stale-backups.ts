import { detectStaleSchedulesAllTeams } from "@/lib/health/stale";
import { inngest } from "../client";
import { mapped } from "../errors";

/** Every five minutes: which schedules went stale (backup.stale, once) or recovered (backup.recovered). */
export const detectStaleBackups = inngest.createFunction(
  { id: "detect-stale-backups", triggers: [{ cron: "*/5 * * * *" }], retries: 1, concurrency: [{ limit: 1 }] },
  async ({ step }) => step.run("check-schedules", () => mapped({}, () => detectStaleSchedulesAllTeams())),
);

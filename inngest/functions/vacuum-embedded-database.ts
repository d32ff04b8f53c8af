import { vacuumPglite } from "@/lib/db";
import { inngest } from "../client";
import { mapped } from "../errors";

/** Daily, at a quiet hour: the embedded database's VACUUM and ANALYZE (a PostgreSQL server's autovacuum does its own). */
export const vacuumEmbeddedDatabase = inngest.createFunction(
  { id: "vacuum-embedded-database", triggers: [{ cron: "20 4 * * *" }], retries: 1, concurrency: [{ limit: 1 }] },
  async ({ step }) => step.run("vacuum-tables", () => mapped({}, async () => ({ tables: await vacuumPglite() }))),
);

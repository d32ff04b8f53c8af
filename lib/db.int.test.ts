import { inArray, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { workflowKeys } from "@/db/schema";
import { inProcessEngine } from "@/inngest/in-process";
import { vacuumEmbeddedDatabase } from "@/inngest/functions/vacuum-embedded-database";
import { databaseKind, db, vacuumPglite } from "./db";

interface TableStats {
  name: string;
  dead: number;
  vacuumed: boolean;
  analyzed: boolean;
}

async function stats(): Promise<TableStats[]> {
  const d = await db();
  // Counts reach the statistics at most once a second unless a flush is asked for.
  await d.execute(sql`select pg_stat_force_next_flush()`);
  await d.execute(sql`select 1`);
  const result = await d.execute(
    sql`select relname as name, n_dead_tup::int as dead, last_vacuum is not null as vacuumed,
          last_analyze is not null as analyzed
        from pg_stat_user_tables order by relname`,
  );
  return (Array.isArray(result) ? result : (result as unknown as { rows: TableStats[] }).rows) as TableStats[];
}

describe("the embedded database's upkeep", () => {
  it("the daily run vacuums and analyzes every table on PGlite, and leaves PostgreSQL to autovacuum", async () => {
    if ((await databaseKind()) === "postgres") {
      expect(await vacuumPglite()).toBe(0);
      return;
    }
    const d = await db();
    // Keys that expired leave dead rows behind, as finished runs and progress updates do.
    const keys = Array.from({ length: 500 }, (_, i) => `test-vacuum:${i}`);
    await d.insert(workflowKeys).values(keys.map((key) => ({ key, expiresAt: new Date() })));
    await d.delete(workflowKeys).where(inArray(workflowKeys.key, keys));
    expect((await stats()).find((t) => t.name === "workflow_keys")?.dead).toBeGreaterThanOrEqual(500);

    const engine = await inProcessEngine();
    try {
      await engine.runCron(vacuumEmbeddedDatabase);
      await engine.idle();
    } finally {
      engine.stop();
    }

    const after = await stats();
    expect(after.length).toBeGreaterThan(30);
    expect(after.filter((t) => !t.vacuumed || !t.analyzed)).toEqual([]);
    expect(after.find((t) => t.name === "workflow_keys")?.dead).toBe(0);
  });
});

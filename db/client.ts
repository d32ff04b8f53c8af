import "server-only";
import path from "node:path";
import { mkdirSync } from "node:fs";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "./schema";

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;
export type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

export interface OpenedDatabase {
  db: Database;
  kind: "postgres" | "pglite";
  migrate(): Promise<void>;
  close(): Promise<void>;
}

/** Read at run time; the standalone build copies it next to server.js (next.config.ts). */
export const migrationsFolder = path.join(process.cwd(), "db/migrations");
// Any constant works; it only has to be the same for every instance migrating this database.
const migrationLockId = 7_240_113;

/** PostgreSQL when a URL is given, otherwise PGlite stored under `<dataDir>/pglite`. */
export async function openDatabase(opts: { databaseUrl?: string; dataDir: string }): Promise<OpenedDatabase> {
  if (opts.databaseUrl) {
    const { default: postgres } = await import("postgres");
    const { drizzle } = await import("drizzle-orm/postgres-js");
    const { migrate } = await import("drizzle-orm/postgres-js/migrator");
    // No array-type fetch on connect: postgres.js 3.4 does not await it, so a connection reset
    // during it is an unhandled rejection. Drizzle parses array columns' text form itself, and
    // the raw array_agg selects (lib/backups/links.ts) read it too.
    const options = { onnotice: () => {}, fetch_types: false };
    const client = postgres(opts.databaseUrl, { ...options, max: 10 });
    return {
      db: drizzle(client, { schema }) as unknown as Database,
      kind: "postgres",
      async migrate() {
        // Instances starting together take turns; the migrator skips what is already applied.
        const lockClient = postgres(opts.databaseUrl!, { ...options, max: 1 });
        try {
          await lockClient`select pg_advisory_lock(${migrationLockId})`;
          await migrate(drizzle(lockClient, { schema }), { migrationsFolder });
          await lockClient`select pg_advisory_unlock(${migrationLockId})`;
        } finally {
          await lockClient.end();
        }
      },
      close: () => client.end(),
    };
  }
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  const { migrate } = await import("drizzle-orm/pglite/migrator");
  const dir = path.resolve(opts.dataDir, "pglite");
  mkdirSync(dir, { recursive: true });
  const client = await PGlite.create(dir);
  const db = drizzle(client, { schema });
  return {
    db: db as unknown as Database,
    kind: "pglite",
    migrate: () => migrate(db, { migrationsFolder }),
    close: () => client.close(),
  };
}

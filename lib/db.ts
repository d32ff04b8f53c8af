import "server-only";
import { existsSync } from "node:fs";
import path from "node:path";
import { inArray, sql, type SQL } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import { openDatabase, type OpenedDatabase } from "@/db/client";
import { env } from "./env";

export type { Database, Transaction } from "@/db/client";

// One database per process: PGlite must not be opened twice, and postgres.js pools connections.
const holder = globalThis as unknown as { __cofferDb?: Promise<OpenedDatabase> };

function opened(): Promise<OpenedDatabase> {
  holder.__cofferDb ??= (async () => {
    const e = env();
    const d = await openDatabase({ databaseUrl: e.DATABASE_URL, dataDir: e.DATA_DIR });
    await d.migrate();
    return d;
  })();
  return holder.__cofferDb;
}

/** The migrated database of this process. */
export async function db() {
  return (await opened()).db;
}

/** Where this process's database is, for scripts to say (never the URL's user or password). */
export function databaseWhere(): string {
  const e = env();
  if (!e.DATABASE_URL) return `the embedded database in ${path.resolve(e.DATA_DIR, "pglite")}`;
  const u = new URL(e.DATABASE_URL);
  return `PostgreSQL database ${decodeURIComponent(u.pathname.slice(1))} at ${u.hostname}:${u.port || 5432}`;
}

/** Whether the embedded database (no DATABASE_URL) has been created yet: opening it creates it. */
export function databaseEmbeddedMissing(): boolean {
  const e = env();
  return !e.DATABASE_URL && !existsSync(path.resolve(e.DATA_DIR, "pglite"));
}

export async function databaseKind() {
  return (await opened()).kind;
}

export async function closeDatabase() {
  const d = holder.__cofferDb;
  holder.__cofferDb = undefined;
  if (d) await (await d).close();
}

/**
 * Deletes the rows of `table` that `where` picks, by their `key`, a batch at a time: each batch
 * commits on its own, so a long history does not hold one long transaction. Returns how many went.
 */
export async function deleteInBatches(table: PgTable, key: PgColumn, where: SQL | undefined): Promise<number> {
  const d = await db();
  let deleted = 0;
  for (;;) {
    const some = d.select({ key }).from(table).where(where).limit(DELETE_BATCH);
    const gone = await d.delete(table).where(inArray(key, some)).returning({ key });
    deleted += gone.length;
    if (gone.length < DELETE_BATCH) return deleted;
  }
}

const DELETE_BATCH = 5_000;

/** The PostgreSQL error code (e.g. 23505 unique violation) of a failed statement, from either driver. */
export function pgCode(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.cause?.code ?? e.code;
}

/**
 * The embedded database's upkeep, which autovacuum does on a PostgreSQL server: PGlite runs no
 * background workers, so unless asked nothing removes the dead rows that finished runs, spent keys
 * and progress updates leave every minute, or gathers the planner's statistics. Table by table, so
 * a query waiting behind it (PGlite runs one at a time) waits for one table only. Resolves with how
 * many tables were vacuumed: none on PostgreSQL.
 */
export async function vacuumPglite(): Promise<number> {
  if ((await databaseKind()) !== "pglite") return 0;
  const d = await db();
  const { rows } = (await d.execute(
    sql`select format('%I.%I', schemaname, relname) as name from pg_stat_user_tables order by 1`,
  )) as unknown as { rows: { name: string }[] };
  for (const { name } of rows) await d.execute(sql.raw(`vacuum (analyze) ${name}`));
  return rows.length;
}

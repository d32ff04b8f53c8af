import "server-only";
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

export async function databaseKind() {
  return (await opened()).kind;
}

export async function closeDatabase() {
  const d = holder.__cofferDb;
  holder.__cofferDb = undefined;
  if (d) await (await d).close();
}

/** The PostgreSQL error code (e.g. 23505 unique violation) of a failed statement, from either driver. */
export function pgCode(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.cause?.code ?? e.code;
}

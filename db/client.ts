import "server-only";
import path from "node:path";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { uptime } from "node:os";
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
  const release = holdFolder(dir);
  const fresh = !existsSync(path.join(dir, "PG_VERSION"));
  const client = await PGlite.create(dir)
    .then(async (created) => {
      if (!fresh) return created;
      // Creating it leaves initdb's memory in the process (RSS about 850 MiB, not 500 MiB), and
      // every command a backup or restore starts forks the whole process: a fresh open lets it go.
      await created.close();
      return PGlite.create(dir);
    })
    .catch((err: unknown) => {
      release();
      throw err;
    });
  const db = drizzle(client, { schema });
  return {
    db: db as unknown as Database,
    kind: "pglite",
    migrate: () => migrate(db, { migrationsFolder }),
    close: () => client.close().finally(release),
  };
}

/**
 * PGlite does not lock its folder, and a second process opening it (`npm run keys:rotate` while
 * Coffer runs) can leave it unreadable. So one process at a time holds `<dir>.lock`, which names
 * it: its pid and, on Linux, its start time (elsewhere the machine's boot time), so a new process
 * that got an old pid is not mistaken for it. A lock whose process is gone is taken over. It
 * covers the processes of one machine or container, not several sharing a volume. Returns the
 * release.
 */
function holdFolder(dir: string): () => void {
  const file = `${dir}.lock`;
  const me = processMark(process.pid);
  for (;;) {
    try {
      writeFileSync(file, me, { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let held: string;
    try {
      held = readFileSync(file, "utf8").trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // released meanwhile
      throw err;
    }
    if (held === me) break; // opened again by this process
    const pid = Number(held.split(" ")[0]);
    // An empty lock is one being written this moment.
    const writing = !held && Date.now() - statSync(file).mtimeMs < 5_000;
    if (writing || (Number.isSafeInteger(pid) && pid > 0 && processMark(pid) === held))
      throw new Error(
        `Coffer's embedded database ${dir} is open in another process${pid ? ` (pid ${pid})` : ""}. Stop it first: two processes using it at once can damage it. If no Coffer runs, delete ${file}.`,
      );
    rmSync(file, { force: true }); // its process is gone
  }
  const release = () => {
    process.off("exit", release);
    try {
      if (readFileSync(file, "utf8").trim() === me) rmSync(file, { force: true });
    } catch {
      // already gone
    }
  };
  process.once("exit", release);
  return release;
}

/** A process as a lock names it (pid and start time); "" when it is not running. */
function processMark(pid: number): string {
  try {
    // Field 22 of /proc/<pid>/stat, after the command name in parentheses (which may hold spaces).
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return `${pid} ${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && existsSync("/proc/self/stat")) return "";
  }
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return "";
  }
  // No /proc (macOS): the boot time, to the minute, tells a pid from before a restart.
  return `${pid} boot-${Math.round((Date.now() - uptime() * 1000) / 60_000)}`;
}

import "server-only";
import type { Readable } from "node:stream";
import { AppError } from "../errors";
import { runCommand, type Reach } from "../reach";
import { COUNT_ROWS } from "../backups/archive";
import type { TableCount } from "../backups/manifest";
import { explainPsqlError, pgConnectionEnv, type PgConnection } from "../servers/postgres";

/**
 * PostgreSQL on a server, through psql on that server (as backups use pg_dump there). Database
 * names travel as psql variables (`:"db"`, `:'db'`), quoted by psql itself, in scripts on stdin.
 * Administrative statements connect to the `postgres` maintenance database.
 */
export class ServerPostgres {
  constructor(
    private readonly reach: Reach,
    private readonly conn: PgConnection,
    private readonly appName: string,
    private readonly signal?: AbortSignal,
  ) {}

  private where = (database: string) => ({ pgHost: this.conn.host, pgPort: this.conn.port, pgDatabase: database, pgUser: this.conn.user });

  private env(database: string) {
    return pgConnectionEnv({ ...this.conn, database }, this.appName);
  }

  /** Runs a script with `db`/`other` as psql variables; resolves with its unaligned output. */
  private async script(database: string, sql: string, vars: Record<string, string>, what: string): Promise<string> {
    const args = Object.entries(vars).flatMap(([k, v]) => ["-v", `${k}=${v}`]);
    const r = await runCommand(this.reach, ["psql", "-X", "-A", "-t", "-q", "-w", "-v", "ON_ERROR_STOP=1", ...args], { input: sql, env: this.env(database), signal: this.signal });
    if (r.code !== 0) {
      const text = explainPsqlError(r.stderrTail, this.where(database));
      throw new AppError("UPSTREAM", `Could not ${what}: ${text.startsWith("psql failed:") ? firstError(r.stderrTail) : text}`);
    }
    return r.stdout.trim();
  }

  async exists(name: string): Promise<boolean> {
    return (await this.script("postgres", "SELECT count(*) FROM pg_database WHERE datname = :'db';\n", { db: name }, `look up database ${name}`)) === "1";
  }

  async create(name: string): Promise<void> {
    await this.script("postgres", 'CREATE DATABASE :"db";\n', { db: name }, `create database ${name}`);
  }

  /** Drops the database if it exists, disconnecting its sessions (PostgreSQL 13+). */
  async drop(name: string): Promise<void> {
    await this.script("postgres", 'DROP DATABASE IF EXISTS :"db" WITH (FORCE);\n', { db: name }, `drop database ${name}`);
  }

  /** Gives `from` the name `to`; with `replace`, drops `to` first (its sessions are disconnected). */
  async rename(from: string, to: string, replace: boolean): Promise<void> {
    const drop = replace ? 'DROP DATABASE IF EXISTS :"db" WITH (FORCE);\n' : "";
    await this.script("postgres", `${drop}ALTER DATABASE :"other" RENAME TO :"db";\n`, { db: to, other: from }, `rename database ${from} to ${to}`);
  }

  /** Every user table's row count, as the manifest records them. */
  async countRows(database: string): Promise<TableCount[]> {
    const out = await this.script(database, COUNT_ROWS, {}, `count the rows of ${database}`);
    return (JSON.parse(out) as [string, string, number][]).map(([schema, table, rows]) => ({ schema, table, rows }));
  }

  /**
   * Loads a plain SQL dump into `database` with `psql -v ON_ERROR_STOP=1`: the first error stops
   * it and becomes the message (with its line number in the dump). The dump is always read to its
   * end (what psql did not take is drained), unless it fails: then psql is killed and the dump's
   * error is thrown, so a cut-off dump never counts as loaded.
   */
  async load(database: string, sql: Readable): Promise<void> {
    const stop = new AbortController();
    const cmd = this.reach.exec(["psql", "-X", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null", "-f", "-"], {
      stdin: true,
      env: this.env(database),
      signal: this.signal ? AbortSignal.any([this.signal, stop.signal]) : stop.signal,
    });
    cmd.stdout.resume();
    const stdin = cmd.stdin!;
    let feedError: unknown;
    const drainRest = () => {
      sql.unpipe(stdin);
      sql.resume();
    };
    stdin.on("error", drainRest); // psql stopped reading; its exit says why
    sql.once("error", (err) => {
      feedError = err;
      stop.abort(err);
    });
    sql.pipe(stdin);
    const exit = await cmd.exit.catch((err: unknown) => {
      throw feedError ?? err;
    });
    drainRest();
    if (feedError) throw feedError;
    if (exit.code === 3) {
      // A statement of the dump failed: another attempt would fail the same way.
      throw new AppError("VALIDATION", `Loading the dump into ${database} failed: ${firstError(exit.stderrTail)}`);
    }
    if (exit.code !== 0) {
      const text = explainPsqlError(exit.stderrTail, this.where(database));
      throw new AppError("UPSTREAM", `Loading the dump into ${database} failed: ${text.startsWith("psql failed:") ? firstError(exit.stderrTail) : text}`);
    }
  }
}

/** The first `ERROR:` line psql printed (with its position in the script), else its first line. */
function firstError(stderr: string): string {
  const lines = stderr.trim().split("\n");
  const i = lines.findIndex((l) => /\b(ERROR|FATAL):/.test(l));
  return (i >= 0 ? lines.slice(i, i + 2).join(" ") : lines[0] || "psql exited with an error").slice(0, 1000);
}

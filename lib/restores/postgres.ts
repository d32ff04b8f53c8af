import "server-only";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { finished } from "node:stream/promises";
import { AppError } from "../errors";
import { DumpGuard, type CopyTarget } from "./dump-guard";
import { runCommand, type Reach } from "../reach";
import { COUNT_ROWS } from "../backups/archive";
import type { TableCount } from "../backups/manifest";
import { explainPsqlError, OWN_SESSION, pgConnectionEnv, type PgConnection } from "../servers/postgres";

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

  private where = (database: string) => ({
    pgHost: this.conn.host,
    pgPort: this.conn.port,
    pgDatabase: database,
    pgUser: this.conn.user,
  });

  private env(database: string) {
    return pgConnectionEnv({ ...this.conn, database }, this.appName);
  }

  private restriction?: Promise<string[]>;

  /**
   * psql's arguments that make it refuse every backslash command in what follows (`\restrict`
   * under a key of this run's own), when the server's psql has that (13.22, 14.19, 15.14, 16.10,
   * 17.6 and later); none for an older psql, where DumpGuard alone keeps them out.
   */
  private restrict(): Promise<string[]> {
    this.restriction ??= runCommand(this.reach, ["psql", "--version"], { signal: this.signal }).then((r) => {
      const [major, minor] = (/\(PostgreSQL\) (\d+)(?:\.(\d+))?/.exec(r.stdout) ?? []).slice(1).map(Number);
      const fixedIn: Record<number, number> = { 13: 22, 14: 19, 15: 14, 16: 10, 17: 6 };
      const has = major! >= 18 || (fixedIn[major!] !== undefined && minor! >= fixedIn[major!]!);
      return has ? ["-c", `\\restrict ${randomBytes(24).toString("hex")}`] : [];
    });
    return this.restriction;
  }

  /** Runs a script with `db`/`other` as psql variables; resolves with its unaligned output. */
  private async script(database: string, sql: string, vars: Record<string, string>, what: string): Promise<string> {
    const args = Object.entries(vars).flatMap(([k, v]) => ["-v", `${k}=${v}`]);
    const r = await runCommand(this.reach, ["psql", "-X", "-A", "-t", "-q", "-w", "-v", "ON_ERROR_STOP=1", ...args], {
      input: OWN_SESSION + sql,
      env: this.env(database),
      signal: this.signal,
    });
    if (r.code !== 0) {
      const text = explainPsqlError(r.stderrTail, this.where(database));
      // A missing privilege, or a name taken meanwhile, is not fixed by trying again.
      const code =
        /permission denied|must be owner|must be a member of the role|must be superuser|already exists/i.test(
          r.stderrTail,
        )
          ? "VALIDATION"
          : "UPSTREAM";
      throw new AppError(
        code,
        `Could not ${what}: ${text.startsWith("psql failed:") ? firstError(r.stderrTail) : text}`,
      );
    }
    return r.stdout.trim();
  }

  async exists(name: string): Promise<boolean> {
    return (
      (await this.script(
        "postgres",
        "SELECT count(*) FROM pg_database WHERE datname = :'db';\n",
        { db: name },
        `look up database ${name}`,
      )) === "1"
    );
  }

  /**
   * Drops `name` if it exists and creates it empty; resolves with whether `probe` exists (false
   * without one), in one psql run. A load into it follows: psql's version, which that needs
   * (`restrict`), is looked up meanwhile, as each command started costs a fork of this process.
   */
  async recreate(name: string, probe?: string): Promise<boolean> {
    const check = probe ? "SELECT count(*) FROM pg_database WHERE datname = :'probe';\n" : "";
    const sql = `DROP DATABASE IF EXISTS :"db" WITH (FORCE);\nCREATE DATABASE :"db";\n${check}`;
    const [out] = await Promise.all([
      this.script("postgres", sql, { db: name, ...(probe && { probe }) }, `create database ${name}`),
      this.restrict(),
    ]);
    return out === "1";
  }

  /** Drops the databases that exist, disconnecting their sessions (PostgreSQL 13+). */
  async drop(...names: string[]): Promise<void> {
    const sql = names.map((_, i) => `DROP DATABASE IF EXISTS :"db${i}" WITH (FORCE);\n`).join("");
    await this.script(
      "postgres",
      sql,
      Object.fromEntries(names.map((n, i) => [`db${i}`, n])),
      `drop database ${names.join(", ")}`,
    );
  }

  /**
   * Gives `from` the name `to` in one transaction, so either all of it happens or none: with
   * `old`, `to` (its sessions disconnected) first becomes `old`, for the caller to drop after.
   */
  async swap(from: string, to: string, old: string | null): Promise<void> {
    const aside = old ? `${END_SESSIONS}ALTER DATABASE :"db" RENAME TO :"old";\n` : "";
    const sql = `BEGIN;\n${aside}ALTER DATABASE :"other" RENAME TO :"db";\nCOMMIT;\n`;
    await this.script(
      "postgres",
      sql,
      { db: to, other: from, ...(old && { old }) },
      `put database ${from} in place of ${to}`,
    );
  }

  /**
   * Runs `pg_dumpall --globals-only` output (checked by DumpGuard) statement by statement on the
   * maintenance database: a role that already exists is kept (its attributes and memberships are
   * still set as in the dump) and named in the result; any other error fails it.
   */
  async applyGlobals(sql: Buffer): Promise<{ existing: string[] }> {
    const restrict = await this.restrict();
    const guard = new DumpGuard({ restricted: restrict.length > 0, globals: true });
    const checked = await buffer(Readable.from([sql]).pipe(guard));
    const r = await runCommand(this.reach, ["psql", "-X", "-q", "-w", "-o", "/dev/null", ...restrict, "-f", "-"], {
      input: checked,
      env: this.env("postgres"),
      signal: this.signal,
    });
    if (r.code !== 0)
      throw new AppError(
        "UPSTREAM",
        `Could not create the roles and tablespaces: ${explainPsqlError(r.stderrTail, this.where("postgres"))}`,
      );
    const refused = refusedCommand(r.stderrTail);
    if (refused) throw refused;
    const errors = r.stderrTail.split("\n").filter((l) => /\bERROR:/.test(l));
    const exists = /ERROR:\s+role "(.+)" already exists/;
    const other = errors.filter((l) => !exists.test(l));
    if (other.length)
      throw new AppError(
        "VALIDATION",
        `Creating the roles and tablespaces failed: ${other[0]!.slice(0, 1000)}${other.length > 1 ? ` (and ${other.length - 1} more error(s))` : ""}`,
      );
    return { existing: errors.flatMap((l) => exists.exec(l)?.[1] ?? []) };
  }

  /** Gives database `name` to role `owner` (a superuser's, or a member of `owner`'s, right). */
  async setOwner(name: string, owner: string): Promise<void> {
    await this.script(
      "postgres",
      'ALTER DATABASE :"db" OWNER TO :"owner";\n',
      { db: name, owner },
      `give database ${name} to ${owner}`,
    );
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
   * error is thrown, so a cut-off dump never counts as loaded. It reaches psql through DumpGuard,
   * which refuses psql meta-commands, and psql refuses them too where it can (`restrict`).
   *
   * Resolves with the rows each COPY loaded, by table, from psql's `COPY <n>` tags; null when
   * they cannot be paired with the dump's COPY statements (a name DumpGuard could not read).
   * Rows a dump adds otherwise (INSERT) are not in them.
   */
  async load(database: string, sql: Readable): Promise<TableCount[] | null> {
    if (sql.destroyed) throw sql.errored ?? new AppError("INTERNAL", "The dump ended before it could be loaded.");
    const restrict = await this.restrict();
    const stop = new AbortController();
    const cmd = this.reach.exec(["psql", "-X", "-w", "-v", "ON_ERROR_STOP=1", ...restrict, "-f", "-"], {
      stdin: true,
      env: this.env(database),
      signal: this.signal ? AbortSignal.any([this.signal, stop.signal]) : stop.signal,
    });
    // Not quiet: psql prints each statement's tag. Only COPY's are kept; a row psql prints is indented.
    const copied: number[] = [];
    let partial = "";
    cmd.stdout.setEncoding("latin1").on("data", (text: string) => {
      const lines = (partial + text).split("\n");
      const last = lines.pop()!;
      partial = last.length > 64 ? " " : last; // too long for a tag: the rest of it is passed over
      for (const line of lines) if (line.startsWith("COPY ")) copied.push(Number(line.slice(5)));
    });
    const stdin = cmd.stdin!;
    const guard = new DumpGuard({ restricted: restrict.length > 0 });
    let feedError: unknown;
    const drainRest = () => {
      sql.unpipe(guard);
      guard.unpipe(stdin);
      sql.resume();
    };
    stdin.on("error", drainRest); // psql stopped reading; its exit says why
    const fail = (err: unknown) => {
      feedError ??= err;
      stop.abort(err);
    };
    finished(sql).catch(fail);
    finished(guard).catch(fail); // a meta-command: psql is killed before that line reaches it
    sql.pipe(guard).pipe(stdin);
    const exit = await cmd.exit.catch((err: unknown) => {
      throw feedError ?? err;
    });
    drainRest();
    if (feedError) throw feedError;
    const refused = refusedCommand(exit.stderrTail);
    if (refused) throw refused;
    if (exit.code === 3) {
      // A statement of the dump failed: another attempt would fail the same way.
      throw new AppError("VALIDATION", `Loading the dump into ${database} failed: ${firstError(exit.stderrTail)}`);
    }
    if (exit.code !== 0) {
      const text = explainPsqlError(exit.stderrTail, this.where(database));
      throw new AppError(
        "UPSTREAM",
        `Loading the dump into ${database} failed: ${text.startsWith("psql failed:") ? firstError(exit.stderrTail) : text}`,
      );
    }
    return rowsByTable(guard.copyTargets, copied);
  }
}

/**
 * Ends the client sessions on database `db` that this role may end (pg_terminate_backend raises an
 * error for the others, which would abort the swap): the rename then waits a few seconds for them
 * and fails, to be retried, if a session it could not end is still there.
 */
const END_SESSIONS = `SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
  WHERE a.datname = :'db' AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
    AND ((SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
      OR (NOT r.rolsuper AND (pg_has_role(a.usesysid, 'MEMBER') OR pg_has_role('pg_signal_backend', 'MEMBER'))));
`;

/** The rows COPY loaded into each table: the tags paired in order with their statements' tables. */
function rowsByTable(targets: readonly (CopyTarget | null)[], tags: number[]): TableCount[] | null {
  if (tags.length !== targets.length || tags.some((n) => !Number.isSafeInteger(n))) return null;
  const rows = new Map<string, TableCount>();
  for (const [i, target] of targets.entries()) {
    if (!target) return null;
    const key = JSON.stringify([target.schema, target.table]);
    const c = rows.get(key) ?? rows.set(key, { ...target, rows: 0 }).get(key)!;
    c.rows += tags[i]!;
  }
  return [...rows.values()].sort((a, b) => compare(a.schema, b.schema) || compare(a.table, b.table));
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A backslash command psql refused while restricted (`restrict`): what DumpGuard read another way. */
function refusedCommand(stderr: string): AppError | null {
  const m = /^psql:<stdin>:(\d+): error: backslash commands are restricted/m.exec(stderr);
  return m
    ? new AppError(
        "VALIDATION",
        `The dump runs a psql command on line ${m[1]}, which psql refused; Coffer loads only dumps as pg_dump writes them. Restore a backup Coffer made, or remove that line from the dump and upload it again.`,
      )
    : null;
}

/**
 * The first `ERROR:` line psql printed (with its position in the script), else its first line.
 * Only that line: the DETAIL and CONTEXT after it can quote the dump's rows.
 */
function firstError(stderr: string): string {
  const lines = stderr.trim().split("\n");
  return (lines.find((l) => /\b(ERROR|FATAL):/.test(l)) ?? (lines[0] || "psql exited with an error")).slice(0, 1000);
}

import "server-only";
import { env as config } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { formatDuration } from "@/lib/format";
import { firstLines, lineReader } from "@/lib/reach";
import { explainPsqlError, OWN_SESSION, pgConnectionEnv } from "@/lib/servers/postgres";
import type { ManifestEntry, PostgresDump, TableCount } from "../manifest";
import { pgWhere, type PostgresArchiveSource, type StartedJob } from "./job";
import type { Compressor } from "../compression";
import { measured, spoolOutput } from "./spool";

/** Every user table's rows, in one statement (so in the session's snapshot), as one line of JSON. */
export const COUNT_ROWS = `SELECT coalesce(jsonb_agg(jsonb_build_array(n.nspname, c.relname,
  (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint)
  ORDER BY n.nspname, c.relname), '[]'::jsonb)::text
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e');
`;

/** The table a lock wait ran out on, from pg_dump's or the session's error (a batch: all it named). */
export function lockedTable(stderr: string): string | null {
  const m = /canceling statement due to (?:lock|statement) timeout[\s\S]*?LOCK TABLE (.+?) IN ACCESS SHARE MODE/.exec(
    stderr,
  );
  if (!m) return null;
  const names = m[1]!.length > 300 ? `${m[1]!.slice(0, 300)}…` : m[1]!;
  return names.includes(", ") ? `one of the tables ${names}` : `the table ${names}`;
}

/** Where a dump goes: its compressed spool in the private folder, and its member name in the archive. */
export interface DumpTarget {
  spool: string;
  path: string;
  pgDumpVersion: string;
  compressor: Compressor;
  /** The spool's size so far, about once a second while pg_dump runs. */
  onProgress?: (spooledBytes: number) => void;
}

/**
 * Dumps one database with `pg_dump --snapshot`, compressed into its spool as it is produced (see
 * spool.ts), while a psql session holding that snapshot counts every user table's rows, so the
 * counts describe exactly what was dumped. Resolves with the manifest's record of the dump and its
 * entry (size and SHA-256 of the plain SQL).
 */
export async function dumpDatabase(
  job: StartedJob,
  s: PostgresArchiveSource,
  target: DumpTarget,
): Promise<{ dump: PostgresDump; entry: ManifestEntry }> {
  const { reach, signal } = job;
  const env = pgConnectionEnv(s, `coffer:${job.backupId}`);
  const lockWait = job.lockWaitSeconds ?? config().BACKUP_LOCK_WAIT;
  const explain = (stderr: string, tool: string) => {
    const locked = lockedTable(stderr);
    if (locked)
      return new AppError(
        "UPSTREAM",
        `${locked[0]!.toUpperCase()}${locked.slice(1)} of ${s.database} (${s.name}) stayed locked by another session for more than ${formatDuration(lockWait * 1000)}, so the backup stopped waiting. Find the session holding the lock in pg_stat_activity (a migration, VACUUM FULL, or a transaction left open), then back up again; BACKUP_LOCK_WAIT sets how long a backup waits.`,
      );
    const text = explainPsqlError(stderr, pgWhere(s));
    const generic = text.startsWith("psql failed:");
    return new AppError(
      "UPSTREAM",
      `${tool} of ${s.database} (${s.name}) failed${generic ? `: ${firstLines(stderr)}` : `. ${text}`}`,
    );
  };
  // Killed on failure: a count blocked on a lock must not keep the backup waiting.
  const stopSession = new AbortController();
  const session = reach.exec(["psql", "-X", "-A", "-t", "-q", "-w", "-v", "ON_ERROR_STOP=1"], {
    stdin: true,
    env,
    signal: AbortSignal.any([signal, stopSession.signal]),
  });
  const lines = lineReader(session.stdout);
  const sessionFailed = async () => {
    session.stdin!.end();
    const exit = await session.exit;
    return explain(exit.stderrTail, "Reading");
  };
  try {
    // PostgreSQL 17's transaction_timeout, which a role may set, would end the snapshot's
    // transaction mid-dump; older servers do not know it (so it is not a SET in OWN_SESSION).
    session.stdin!.write(
      OWN_SESSION +
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSELECT pg_export_snapshot(), current_setting('server_version'), (SELECT set_config(name, '0', false) FROM pg_settings WHERE name = 'transaction_timeout');\n",
    );
    const first = await lines.next();
    if (first === undefined) throw await sessionFailed();
    const [snapshot = "", serverVersion = ""] = first.split("|");
    if (!serverVersion || !/^[0-9A-Fa-f-]+$/.test(snapshot))
      throw new AppError("UPSTREAM", `Unexpected answer from PostgreSQL (${s.name}): ${first.slice(0, 200)}`);
    // Counting runs in the session while pg_dump runs in its own connection on the same snapshot.
    session.stdin!.write(COUNT_ROWS);
    const dump = await spoolOutput(
      reach,
      ["pg_dump", "-w", `--snapshot=${snapshot}`, `--lock-wait-timeout=${lockWait}s`, "--format=plain"],
      target.spool,
      target.compressor,
      { env, signal, onProgress: target.onProgress },
    );
    if (dump.code !== 0) {
      if (/No space left on device/i.test(dump.stderrTail))
        throw new AppError(
          "UPSTREAM",
          `The work folder ${job.workDir} on ${job.serverName} ran out of space while the dump of ${s.database} (${s.name}) was compressed into it. Free some space there, or choose another work folder in the server's settings.`,
        );
      // A failed count aborts the session's transaction, which invalidates the snapshot pg_dump
      // then uses: the session's error is the cause, pg_dump's only its consequence.
      const sessionExit = await Promise.race([
        session.exit,
        new Promise<undefined>((r) => setTimeout(r, 1_000, undefined)),
      ]);
      throw sessionExit && sessionExit.code !== 0
        ? explain(sessionExit.stderrTail, "Reading")
        : explain(dump.stderrTail, "pg_dump");
    }
    const countLine = await lines.next();
    if (countLine === undefined) throw await sessionFailed();
    session.stdin!.end("COMMIT;\n");
    const exit = await session.exit;
    if (exit.code !== 0) throw explain(exit.stderrTail, "Reading");
    const tables: TableCount[] = (JSON.parse(countLine) as [string, string, number][]).map(([schema, table, rows]) => ({
      schema,
      table,
      rows,
    }));
    const entry = measured(reach, dump, target.path);
    const { path, pgDumpVersion } = target;
    return {
      dump: {
        source: s.id,
        database: s.database,
        path,
        serverVersion,
        pgDumpVersion,
        snapshot,
        tables,
        ...(s.owner && { owner: s.owner }),
      },
      entry,
    };
  } catch (error) {
    // The server rolls the transaction back when psql goes.
    stopSession.abort(error);
    await session.exit.catch(() => {});
    throw error;
  }
}

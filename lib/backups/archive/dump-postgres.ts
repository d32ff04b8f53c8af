import "server-only";
import { AppError } from "@/lib/errors";
import { firstLines, lineReader, runCommand } from "@/lib/reach";
import { explainPsqlError, pgConnectionEnv } from "@/lib/servers/postgres";
import type { PostgresDump, TableCount } from "../manifest";
import { pgWhere, type PostgresArchiveSource, type StartedJob } from "./job";

/** Every user table's rows, in one statement (so in the session's snapshot), as one line of JSON. */
export const COUNT_ROWS = `SELECT coalesce(jsonb_agg(jsonb_build_array(n.nspname, c.relname,
  (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint)
  ORDER BY n.nspname, c.relname), '[]'::jsonb)::text
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e');
`;

/**
 * Dumps one database into `file` with `pg_dump --snapshot`, while a psql session holding that
 * snapshot counts every user table's rows, so the counts describe exactly what was dumped.
 */
export async function dumpDatabase(
  job: StartedJob,
  s: PostgresArchiveSource,
  file: string,
  entryPath: string,
  pgDumpVersion: string,
): Promise<PostgresDump> {
  const { reach, signal } = job;
  const env = pgConnectionEnv(s, `coffer:${job.backupId}`);
  const explain = (stderr: string, tool: string) => {
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
    session.stdin!.write(
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSELECT pg_export_snapshot(), current_setting('server_version');\n",
    );
    const first = await lines.next();
    if (first === undefined) throw await sessionFailed();
    const bar = first.indexOf("|");
    const snapshot = first.slice(0, bar);
    const serverVersion = first.slice(bar + 1);
    if (bar < 0 || !/^[0-9A-Fa-f-]+$/.test(snapshot))
      throw new AppError("UPSTREAM", `Unexpected answer from PostgreSQL (${s.name}): ${first.slice(0, 200)}`);
    // Counting runs in the session while pg_dump runs in its own connection on the same snapshot.
    session.stdin!.write(COUNT_ROWS);
    const dump = await runCommand(
      reach,
      ["pg_dump", "-w", `--snapshot=${snapshot}`, "--format=plain", `--file=${file}`],
      { env, signal },
    );
    if (dump.code !== 0) {
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
    return { source: s.id, database: s.database, path: entryPath, serverVersion, pgDumpVersion, snapshot, tables };
  } catch (error) {
    // The server rolls the transaction back when psql goes.
    stopSession.abort(error);
    await session.exit.catch(() => {});
    throw error;
  }
}

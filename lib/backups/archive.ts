import "server-only";
import { PassThrough, type Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { AppError } from "@/lib/errors";
import { runCommand, type Reach, type RunningCommand } from "@/lib/reach";
import { explainPsqlError, pgConnectionEnv, pgDumpMajor, type PgConnection } from "@/lib/servers/postgres";
import {
  MANIFEST_FORMAT,
  MANIFEST_PATH,
  manifestSchema,
  type Manifest,
  type ManifestEntry,
  type ManifestSource,
  type PostgresDump,
  type TableCount,
} from "./manifest";
import {
  checkBackupId,
  dumpPaths,
  findArgs,
  freeSpaceProblem,
  normalizePaths,
  parseSha256Output,
  parseStatOutput,
} from "./plan";

/**
 * One backup as a `.tar.gz` stream, assembled on the server where the data lives.
 *
 * Archive layout: `manifest.json` (first), `postgres/<database>.sql` (plain `pg_dump` output),
 * `files/<absolute path without the leading slash>/…` (directory sources).
 *
 * Steps, all on the server through `Reach` (argument vectors only; the few `sh -c` scripts are
 * constants that take values as "$1"…, and connection settings travel as environment variables
 * on the channel's stdin):
 * 1. Preflight: tools, the work folder and its free space, directory paths, each database's size
 *    and version; the free-space decision is `freeSpaceProblem` (plan.ts).
 * 2. A private folder `mktemp -d <workDir>/coffer-<backupId>-XXXXXX` (0700) held by a "guardian"
 *    command that removes it when its stdin closes: Coffer closes it when the backup ends for any
 *    reason, and sshd closes it when the connection is lost, so the folder goes on every path. On
 *    failure Coffer also runs `rm -rf` itself.
 * 3. Per database: a psql session opens a REPEATABLE READ READ ONLY transaction and exports its
 *    snapshot; `pg_dump --snapshot` writes the dump into the folder while the session counts every
 *    user table's rows in the same transaction; then COMMIT.
 * 4. Directory sources are listed once with `find` (NUL-separated lists, excludes applied); sizes
 *    and SHA-256 of every dump and regular file are computed on the server (`stat`, `sha256sum`),
 *    so the manifest can be written first. A directory file that changes between hashing and
 *    archiving makes its entry disagree with the archived bytes: verification flags it.
 * 5. One pipeline `tar … | pigz -6` (gzip -6 without pigz) streams the archive; its exit status
 *    follows pipefail.
 *
 * pg_dump runs with its defaults (plain SQL, owners and privileges kept, no `--clean`): the dump
 * is meant to be loaded into a NEW, empty database with `psql -v ON_ERROR_STOP=1 -d <new> -f
 * <file>` (the roles it names must exist there, as in the original cluster). `--clean` would only
 * help when loading over an existing database, which Coffer's restore never does.
 * Connection settings are passed as PGHOST/PGPORT/PGUSER/PGDATABASE, never as `-d`: pg_dump and
 * psql expand a `-d` value containing `=` as a connection string.
 */

/** A database to dump: where and as whom to connect (`hostaddr` pins a local server's checked address). */
export interface PostgresArchiveSource extends PgConnection {
  kind: "postgres";
  id: string;
  name: string;
}
export interface DirectoryArchiveSource {
  kind: "directory";
  id: string;
  name: string;
  paths: string[];
  excludes: string[];
}
export type ArchiveSource = PostgresArchiveSource | DirectoryArchiveSource;

export interface ArchiveJob {
  reach: Reach;
  /** Absolute folder on the server for temporary dumps. */
  workDir: string;
  /** The server's name, for the manifest and messages. */
  serverName: string;
  /** Letters, digits, `_`, `-` (part of the private folder's name). */
  backupId: string;
  sources: ArchiveSource[];
  cofferVersion: string;
  /** Cancels the backup: commands are killed, the private folder removed, `done` rejects with the reason. */
  signal?: AbortSignal;
  /** Free space to keep in the work folder beyond the estimated dump size (default 64 MiB). */
  minFreeBytes?: number;
  /** Called with one line per step, for the run log. */
  onStep?: (message: string) => void;
}

export interface RunningArchive {
  /** The `.tar.gz` bytes, streamed from the server. Ends only after a complete, successful run;
   * otherwise it is destroyed with the same error `done` rejects with. */
  stream: Readable;
  /** Resolves once the stream ended, the server-side pipeline exited 0 and the private folder was
   * removed; rejects with an AppError (or the abort reason when cancelled) otherwise. */
  done: Promise<Manifest>;
}

const MAX_LIST_OUTPUT = 512 * 1024 * 1024;

/**
 * Starts a backup. Rejects only for an invalid job (AppError VALIDATION); everything that happens
 * on the server is reported through `done` and `stream`, so a caller can start consuming `stream`
 * at once (it carries no bytes until the dumps are complete).
 */
export async function startArchive(job: ArchiveJob): Promise<RunningArchive> {
  const plan = planJob(job);
  const stream = new PassThrough({ highWaterMark: 1024 * 1024 });
  // A consumer that only awaits `done` must not crash the process through an unhandled 'error'.
  stream.on("error", () => {});
  const consumerGone = new AbortController();
  stream.once("close", () => {
    if (!stream.readableEnded)
      consumerGone.abort(
        stream.errored ?? new AppError("INTERNAL", "The archive stream was closed before the backup finished."),
      );
  });
  const signal = job.signal ? AbortSignal.any([job.signal, consumerGone.signal]) : consumerGone.signal;
  const done = run({ ...job, signal }, plan, stream);
  done.catch(() => {});
  return { stream, done };
}

interface Plan {
  postgres: PostgresArchiveSource[];
  directories: (DirectoryArchiveSource & { normalized: string[] })[];
  dumpPath: Map<string, string>;
}

function planJob(job: ArchiveJob): Plan {
  checkBackupId(job.backupId);
  if (typeof job.workDir !== "string" || !/^\/[^\0\n\r]*$/.test(job.workDir))
    throw new AppError("VALIDATION", "The work folder must be an absolute path.");
  if (!job.sources.length) throw new AppError("VALIDATION", "Choose at least one source to back up.");
  const ids = new Set<string>();
  for (const s of job.sources) {
    if (ids.has(s.id)) throw new AppError("VALIDATION", `Source ${s.name} is listed twice.`);
    ids.add(s.id);
  }
  const postgres = job.sources.filter((s): s is PostgresArchiveSource => s.kind === "postgres");
  const directories = job.sources
    .filter((s): s is DirectoryArchiveSource => s.kind === "directory")
    .map((s) => ({ ...s, normalized: normalizePaths(s.paths) }));
  return { postgres, directories, dumpPath: dumpPaths(postgres) };
}

const pgWhere = (s: PostgresArchiveSource) => ({
  pgHost: s.host,
  pgPort: s.port,
  pgDatabase: s.database,
  pgUser: s.user,
});
const firstLines = (text: string, n = 3) => text.trim().split("\n").filter(Boolean).slice(0, n).join(" ");

async function run(job: ArchiveJob & { signal: AbortSignal }, plan: Plan, out: PassThrough): Promise<Manifest> {
  const { reach, signal } = job;
  const step = (m: string) => job.onStep?.(m);
  const startedAt = new Date().toISOString();
  let guardian: Guardian | undefined;
  try {
    signal.throwIfAborted();
    const pre = await preflight(job, plan);
    signal.throwIfAborted();
    guardian = await openPrivateFolder(job);
    const dir = guardian.dir;
    step(`Private folder ${dir} created on ${job.serverName}.`);
    await mustRun(
      reach,
      ["sh", "-c", 'mkdir -- "$1/postgres" && ln -s / "$1/files"', "sh", dir],
      { signal },
      "prepare the private folder",
    );

    const dumps: PostgresDump[] = [];
    for (const s of plan.postgres) {
      step(`Dumping ${s.database} (${s.name})…`);
      dumps.push(
        await dumpDatabase(job, s, `${dir}/${plan.dumpPath.get(s.id)!}`, plan.dumpPath.get(s.id)!, pre.pgDumpVersion),
      );
      step(`Dumped ${s.database}: ${dumps.at(-1)!.tables.length} table(s).`);
    }

    const lists = await listDirectories(job, plan, dir);
    const entries = await hashEntries(job, dir, ["dumps.list", ...lists.regular], plan);
    const finishedAt = new Date().toISOString();
    step(`Listed and hashed ${entries.length} file(s).`);

    const manifest = manifestSchema.parse({
      format: MANIFEST_FORMAT,
      coffer: job.cofferVersion,
      backupId: job.backupId,
      server: job.serverName,
      startedAt,
      finishedAt,
      sources: job.sources.map(manifestSource),
      entries,
      postgres: dumps,
    } satisfies Manifest);
    await writeRemote(job, `${dir}/${MANIFEST_PATH}`, JSON.stringify(manifest, null, 2) + "\n");
    await writeRemote(job, `${dir}/head.list`, `${MANIFEST_PATH}\0`);

    const tar = [
      "tar",
      "--create",
      "--file=-",
      "--format=gnu",
      "--null",
      "--no-recursion",
      "-T",
      "head.list",
      "-T",
      "dumps.list",
      ...lists.all.flatMap((l) => ["-T", l]),
    ];
    const gzip = pre.pigz ? ["pigz", "-6"] : ["gzip", "-6"];
    step(`Streaming the archive (${gzip[0]})…`);
    const cmd = reach.execPipeline([tar, gzip], { cwd: dir, signal });
    await forward(cmd, out);
    const exit = await cmd.exit;
    if (exit.code !== 0) {
      throw new AppError(
        "UPSTREAM",
        `Archiving on ${job.serverName} failed (exit ${exit.code ?? exit.signal}): ${firstLines(exit.stderrTail) || "no message"}. If files changed or vanished while being read, run the backup again or exclude them.`,
      );
    }
    const g = guardian;
    guardian = undefined;
    await g.close();
    step("Private folder removed.");
    out.end();
    await finished(out);
    return manifest;
  } catch (error) {
    const reason = signal.aborted
      ? signal.reason
      : error instanceof AppError
        ? error
        : new AppError(
            "INTERNAL",
            `The backup of ${job.serverName} failed: ${error instanceof Error ? error.message : String(error)}`,
          );
    if (guardian) {
      const dir = guardian.dir;
      await guardian.close().catch(() => {});
      // Belt and braces: the guardian normally removed it already.
      await runCommand(reach, ["rm", "-rf", "--", dir]).catch(() => {});
    }
    out.destroy(reason as Error);
    throw reason;
  }
}

function manifestSource(s: ArchiveSource): ManifestSource {
  return s.kind === "postgres"
    ? { kind: "postgres", id: s.id, name: s.name, host: s.host, port: s.port, database: s.database, user: s.user }
    : { kind: "directory", id: s.id, name: s.name, paths: s.paths, excludes: s.excludes };
}

/** Runs a short command; a non-zero exit becomes an AppError saying what could not be done. */
async function mustRun(reach: Reach, argv: string[], opts: Parameters<typeof runCommand>[2], what: string) {
  const r = await runCommand(reach, argv, opts);
  if (r.code !== 0)
    throw new AppError(
      "UPSTREAM",
      `Could not ${what} on ${reach.label}: ${firstLines(r.stderrTail) || `exit ${r.code ?? r.signal}`}.`,
    );
  return r;
}

async function writeRemote(job: ArchiveJob & { signal: AbortSignal }, path: string, text: string) {
  await mustRun(
    job.reach,
    ["sh", "-c", 'umask 077 && cat > "$1"', "sh", path],
    { input: text, signal: job.signal },
    `write ${path}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Preflight

const PREFLIGHT = [
  "w=$1; shift",
  'for c in tar gzip pigz find xargs sha256sum stat mktemp pg_dump psql; do command -v "$c" >/dev/null 2>&1 && echo "tool $c"; done',
  'tar --version 2>/dev/null | head -n 1 | sed "s/^/tarversion /"',
  'if [ ! -d "$w" ]; then echo "workdir missing"; elif [ ! -w "$w" ] || [ ! -x "$w" ]; then echo "workdir readonly"; else echo "df $(df -Pk "$w" | tail -n 1)"; fi',
  'i=0; for p do if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo "path $i missing"; elif [ ! -d "$p" ]; then echo "path $i notdir"; elif [ ! -r "$p" ] || [ ! -x "$p" ]; then echo "path $i unreadable"; fi; i=$((i+1)); done',
  "true",
].join("\n");

interface Preflight {
  pigz: boolean;
  pgDumpVersion: string;
}

async function preflight(job: ArchiveJob & { signal: AbortSignal }, plan: Plan): Promise<Preflight> {
  const { reach, signal, workDir, serverName } = job;
  const paths = plan.directories.flatMap((d) => d.normalized);
  const probe = await runCommand(reach, ["sh", "-c", PREFLIGHT, "sh", workDir, ...paths], { signal });
  if (probe.code !== 0)
    throw new AppError(
      "UPSTREAM",
      `Could not inspect ${serverName}: ${firstLines(probe.stderrTail) || `exit ${probe.code}`}.`,
    );
  const lines = probe.stdout.split("\n");
  const tools = new Set(lines.filter((l) => l.startsWith("tool ")).map((l) => l.slice(5)));
  const needed = [
    "tar",
    "gzip",
    "find",
    "xargs",
    "sha256sum",
    "stat",
    "mktemp",
    ...(plan.postgres.length ? ["pg_dump", "psql"] : []),
  ];
  const missing = needed.filter((t) => !tools.has(t));
  if (missing.length) {
    const pg = missing.some((t) => t.startsWith("p")) ? " (PostgreSQL client: apt install postgresql-client)" : "";
    throw new AppError(
      "UPSTREAM",
      `${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} not installed on ${serverName}${pg}.`,
    );
  }
  const tarVersion = lines.find((l) => l.startsWith("tarversion "))?.slice(11) ?? "";
  if (!/GNU tar/.test(tarVersion))
    throw new AppError(
      "UPSTREAM",
      `Coffer needs GNU tar on ${serverName}, found ${tarVersion || "an unknown tar"}: install GNU tar.`,
    );
  if (lines.includes("workdir missing"))
    throw new AppError(
      "VALIDATION",
      `The work folder ${workDir} does not exist on ${serverName}. Create it, or choose another in the server's settings.`,
    );
  if (lines.includes("workdir readonly"))
    throw new AppError(
      "VALIDATION",
      `The work folder ${workDir} on ${serverName} is not writable by the SSH user. Fix its permissions, or choose another.`,
    );
  const problems = lines.flatMap((l) => {
    const m = /^path (\d+) (\w+)$/.exec(l);
    if (!m) return [];
    const words: Record<string, string> = {
      missing: "does not exist",
      notdir: "is not a directory",
      unreadable: "is not readable by the SSH user",
    };
    return [`${paths[Number(m[1])]} ${words[m[2]!] ?? m[2]}`];
  });
  if (problems.length)
    throw new AppError(
      "VALIDATION",
      `On ${serverName}: ${problems.join("; ")}. Fix the source's paths, or the folder permissions.`,
    );
  const dfLine = lines.find((l) => l.startsWith("df "));
  const freeKib = Number(dfLine?.slice(3).trim().split(/\s+/)[3]);
  if (!Number.isFinite(freeKib))
    throw new AppError("UPSTREAM", `Could not read the free space of ${workDir} on ${serverName}.`);

  let pgDumpVersion = "";
  let databaseBytes = 0;
  if (plan.postgres.length) {
    pgDumpVersion = (await mustRun(reach, ["pg_dump", "--version"], { signal }, "run pg_dump --version")).stdout.trim();
    const dumpMajor = pgDumpMajor(pgDumpVersion) ?? 0;
    for (const s of plan.postgres) {
      const q = await runCommand(
        reach,
        [
          "psql",
          "-X",
          "-A",
          "-t",
          "-q",
          "-w",
          "-v",
          "ON_ERROR_STOP=1",
          "-c",
          "select pg_database_size(current_database()), current_setting('server_version_num')::int / 10000",
        ],
        {
          env: pgConnectionEnv(s, `coffer:${job.backupId}`),
          signal,
        },
      );
      if (q.code !== 0) throw new AppError("UPSTREAM", `${s.name}: ${explainPsqlError(q.stderrTail, pgWhere(s))}`);
      const [bytes, major] = q.stdout.trim().split("|").map(Number) as [number, number];
      if (dumpMajor < major)
        throw new AppError(
          "UPSTREAM",
          `pg_dump ${dumpMajor} on ${serverName} cannot dump PostgreSQL ${major} (${s.name}): install postgresql-client-${major}.`,
        );
      databaseBytes += bytes;
    }
  }
  const problem = freeSpaceProblem({
    dir: workDir,
    server: serverName,
    freeBytes: freeKib * 1024,
    databaseBytes,
    headroomBytes: job.minFreeBytes,
  });
  if (problem) throw new AppError("VALIDATION", problem);
  return { pigz: tools.has("pigz"), pgDumpVersion };
}

// ---------------------------------------------------------------------------------------------
// The private folder

/**
 * Creates the folder and holds it: it prints the path, then waits for EOF on stdin and removes the
 * folder. EOF comes from Coffer (`close`), or from sshd when the channel or connection goes; a
 * TERM/HUP/INT (cancellation kills the process group) also removes it through the EXIT trap.
 */
const GUARDIAN = [
  "umask 077",
  'd=$(mktemp -d "$1/coffer-$2-XXXXXX") || exit 1',
  "trap 'rm -rf -- \"$d\"' EXIT",
  "trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM",
  'printf "%s\\n" "$d"',
  "cat >/dev/null",
  "trap - EXIT",
  'rm -rf -- "$d"',
].join("\n");

interface Guardian {
  dir: string;
  /** Ends the guardian: the folder is removed; rejects if that failed. Idempotent. */
  close(): Promise<void>;
}

async function openPrivateFolder(job: ArchiveJob & { signal: AbortSignal }): Promise<Guardian> {
  const { reach } = job;
  // Deliberately not tied to `signal`: it must outlive a cancellation long enough to clean up.
  const base = job.workDir.replace(/\/+$/, "");
  const cmd = reach.exec(["sh", "-c", GUARDIAN, "sh", base, job.backupId], { stdin: true });
  const lines = lineReader(cmd.stdout);
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      cmd.stdin!.end();
      const exit = await cmd.exit;
      if (exit.code !== 0)
        throw new AppError(
          "UPSTREAM",
          `Could not remove the private folder on ${job.serverName}: ${firstLines(exit.stderrTail) || `exit ${exit.code ?? exit.signal}`}.`,
        );
    })());
  const onAbort = () => void close().catch(() => {});
  const dir = await Promise.race([
    lines.next(),
    new Promise<undefined>((r) => job.signal.addEventListener("abort", () => r(undefined), { once: true })),
  ]);
  if (!dir || !dir.startsWith(`${base}/coffer-${job.backupId}-`)) {
    onAbort();
    job.signal.throwIfAborted();
    const exit = await cmd.exit.catch((e: unknown) => ({
      code: null,
      signal: null,
      stderrTail: e instanceof Error ? e.message : String(e),
    }));
    throw new AppError(
      "UPSTREAM",
      `Could not create a private folder in ${job.workDir} on ${job.serverName}: ${firstLines(exit.stderrTail) || "mktemp failed"}.`,
    );
  }
  return { dir, close };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/** Every user table's rows, in one statement (so in the session's snapshot), as one line of JSON. */
export const COUNT_ROWS = `SELECT coalesce(jsonb_agg(jsonb_build_array(n.nspname, c.relname,
  (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint)
  ORDER BY n.nspname, c.relname), '[]'::jsonb)::text
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e');
`;

async function dumpDatabase(
  job: ArchiveJob & { signal: AbortSignal },
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

// ---------------------------------------------------------------------------------------------
// Lists and hashes

async function listDirectories(job: ArchiveJob & { signal: AbortSignal }, plan: Plan, dir: string) {
  const dumpNames = plan.postgres.map((s) => `${plan.dumpPath.get(s.id)!}\0`).join("");
  await writeRemote(job, `${dir}/dumps.list`, dumpNames);
  const all: string[] = [];
  const regular: string[] = [];
  for (const [i, d] of plan.directories.entries()) {
    const lists = { allList: `files-${i}.list`, regularList: `regular-${i}.list` };
    const r = await runCommand(
      job.reach,
      findArgs({ paths: d.normalized, excludes: d.excludes, privateDir: dir, ...lists }),
      { cwd: dir, signal: job.signal },
    );
    if (r.code !== 0) {
      const message = r.stderrTail.replaceAll(`files/`, "/").trim().split("\n").slice(0, 3).join("; ");
      throw new AppError(
        "UPSTREAM",
        `Could not list the files of ${d.name} on ${job.serverName}: ${message || `find exited ${r.code}`}. Fix the permissions, or exclude those paths.`,
      );
    }
    all.push(lists.allList);
    regular.push(lists.regularList);
  }
  return { all, regular };
}

const HASH = 'cd -- "$1" || exit 125\nshift\ncat -- "$@" | xargs -0 -r sha256sum -z --';
const SIZES = 'cd -- "$1" || exit 125\nshift\ncat -- "$@" | xargs -0 -r stat --printf \'%s %n\\0\' --';

async function hashEntries(
  job: ArchiveJob & { signal: AbortSignal },
  dir: string,
  lists: string[],
  plan: Plan,
): Promise<ManifestEntry[]> {
  const opts = { signal: job.signal, maxOutputBytes: MAX_LIST_OUTPUT };
  const sizes = await runCommand(job.reach, ["sh", "-c", SIZES, "sh", dir, ...lists], opts);
  if (sizes.code !== 0) throw changedError(job, sizes.stderrTail);
  const hashes = await runCommand(job.reach, ["sh", "-c", HASH, "sh", dir, ...lists], opts);
  if (hashes.code !== 0) throw changedError(job, hashes.stderrTail);
  const sizeOf = parseStatOutput(sizes.stdout);
  const hashOf = parseSha256Output(hashes.stdout);
  const entries: ManifestEntry[] = [];
  const seen = new Set<string>();
  for (const [path, sha256] of hashOf) {
    const size = sizeOf.get(path);
    if (size === undefined) throw changedError(job, `${path} appeared while Coffer was reading`);
    if (seen.has(path)) continue;
    seen.add(path);
    entries.push({ path, size, sha256 });
  }
  for (const s of plan.postgres)
    if (!seen.has(plan.dumpPath.get(s.id)!))
      throw new AppError("INTERNAL", `The dump of ${s.database} is missing from the private folder.`);
  return entries;
}

function changedError(job: ArchiveJob, stderr: string) {
  const text = stderr.replaceAll("files/", "/").trim().split("\n").slice(0, 3).join("; ");
  return new AppError(
    "UPSTREAM",
    `Could not read the files to back up on ${job.serverName}: ${text || "unknown error"}. If files vanished while being read, run the backup again or exclude them.`,
  );
}

// ---------------------------------------------------------------------------------------------
// Streams

/** Copies the pipeline's output into `out` with back-pressure, without ending `out`; resolves when
 * the output ended cleanly, rejects when it was cut off (cancel, lost connection). */
function forward(cmd: RunningCommand, out: PassThrough): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const src = cmd.stdout;
    src.pipe(out, { end: false });
    src.once("end", () => resolve());
    src.once("error", (e) => reject(e));
    src.once("close", () => {
      if (!src.readableEnded) reject(src.errored ?? new AppError("UPSTREAM", "The archive stream was cut off."));
    });
    cmd.exit.catch(reject);
  });
}

/** Reads a stream line by line; `next()` gives undefined once it ended (or failed). */
function lineReader(stream: Readable) {
  let buffer = "";
  const queue: string[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffer += chunk;
    let i: number;
    while ((i = buffer.indexOf("\n")) >= 0) {
      queue.push(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
    }
    wake?.();
  });
  const stop = () => {
    ended = true;
    wake?.();
  };
  stream.once("end", stop);
  stream.once("close", stop);
  stream.once("error", stop);
  return {
    async next(): Promise<string | undefined> {
      while (!queue.length && !ended) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      return queue.shift();
    },
  };
}

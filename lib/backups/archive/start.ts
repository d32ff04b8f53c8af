import "server-only";
import { PassThrough } from "node:stream";
import { finished } from "node:stream/promises";
import { plainCause } from "@/lib/error-text";
import { AppError } from "@/lib/errors";
import { formatBytes, formatCount } from "@/lib/format";
import { firstLines, holdPrivateFolder, runCommand } from "@/lib/reach";
import {
  MANIFEST_FORMAT,
  manifestSchema,
  type Manifest,
  type ManifestEntry,
  type ManifestSource,
  type PostgresDump,
} from "../manifest";
import { GLOBALS_PATH, dumpPaths } from "../plan";
import { dumpGlobals, listClusterDatabases } from "./cluster";
import { dumpDatabase } from "./dump-postgres";
import { planJob, type ArchiveJob, type ArchiveSource, type Plan, type RunningArchive, type StartedJob } from "./job";
import { hashEntries, listDirectories } from "./list-and-hash";
import { preflight } from "./preflight";
import { mustRun } from "./remote";
import { streamArchive, type Spooled } from "./stream";

/**
 * Starts a backup: one `.tar.gz` assembled on the server where the data lives (layout and steps:
 * docs/design/archive.md). Rejects only for an invalid job (AppError VALIDATION); everything that happens
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

async function run(job: StartedJob, listed: Plan, out: PassThrough): Promise<Manifest> {
  const { reach, signal } = job;
  const step = (m: string) => job.onStep?.(m);
  const startedAt = new Date().toISOString();
  let guardian: PrivateFolder | undefined;
  try {
    signal.throwIfAborted();
    const { plan, clusterDatabases } = await withClusterDatabases(job, listed);
    const pre = await preflight(job, plan);
    signal.throwIfAborted();
    guardian = await openPrivateFolder(job);
    const dir = guardian.dir;
    step(`Private folder ${dir} created on ${job.serverName}.`);
    const { compressor } = pre;

    const dumps: Spooled[] = [];
    for (const [i, c] of plan.clusters.entries()) {
      step(`Dumping the roles and tablespaces of ${c.name}${c.rolePasswords ? " with their password hashes" : ""}…`);
      const spool = `${dir}/globals-${i}.sql.gz`;
      const entry = await dumpGlobals(job, c, { spool, path: globalsPath(c, plan), compressor });
      dumps.push({ entry, spool });
    }
    const postgres: PostgresDump[] = [];
    const paths = dumpPaths(
      plan.postgres,
      plan.clusters.map((c) => globalsPath(c, plan)),
    );
    let spooled = 0; // by the dumps before this one, as last reported
    for (const [i, s] of plan.postgres.entries()) {
      step(`Dumping ${s.database} (${s.name}), compressed with ${compressor.tool} -${compressor.level}…`);
      const spool = `${dir}/dump-${i}.sql.gz`;
      const path = paths[i]!;
      let last = 0;
      const onProgress = (n: number) => job.onSpooled?.(spooled + (last = n));
      const { dump, entry } = await dumpDatabase(job, s, { spool, path, ...pre, onProgress });
      spooled += last;
      dumps.push({ entry, spool });
      postgres.push(dump);
      step(`Dumped ${s.database}: ${formatCount(dump.tables.length, "table")}, ${formatBytes(entry.size)} of SQL.`);
    }

    let lists: string[] = [];
    let files: ManifestEntry[] = [];
    if (plan.directories.length) {
      await mustRun(reach, ["ln", "-s", "/", `${dir}/files`], { signal }, "prepare the private folder");
      const listed = await listDirectories(job, plan, dir);
      files = await hashEntries(job, dir, listed.regular);
      lists = listed.all;
      step(`Listed and hashed ${formatCount(files.length, "file")}.`);
      // The server's tar keeps such names as they are; the manifest (JSON) and a restore cannot.
      const notUtf8 = files.filter((f) => f.path.includes("\uFFFD"));
      if (notUtf8.length)
        step(
          `Warning: ${formatCount(notUtf8.length, "file name")} ${notUtf8.length === 1 ? "is" : "are"} not valid UTF-8 (${notUtf8
            .slice(0, 3)
            .map((f) => JSON.stringify(f.path.slice("files".length)))
            .join(
              ", ",
            )}${notUtf8.length > 3 ? ", …" : ""}). The archive holds them under their own names, but Coffer cannot restore them: rename them to UTF-8, or extract them from the downloaded backup with tar.`,
        );
    }
    const finishedAt = new Date().toISOString();

    const manifest = manifestSchema.parse({
      format: MANIFEST_FORMAT,
      coffer: job.cofferVersion,
      backupId: job.backupId,
      server: job.serverName,
      startedAt,
      finishedAt,
      sources: job.sources.map((s) => manifestSource(s, plan, clusterDatabases)),
      entries: [...dumps.map((d) => d.entry), ...files],
      postgres,
      compression: { setting: job.compression ?? "fast", ...compressor },
    } satisfies Manifest);

    step(`Streaming the archive…`);
    await streamArchive(job, { dir, manifest, dumps, lists, compressor }, out);
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
            `The backup of ${job.serverName} failed: ${plainCause(error, { backupId: job.backupId })}.`,
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

interface PrivateFolder {
  dir: string;
  /** Ends the guardian: the folder is removed; rejects if that failed. */
  close(): Promise<void>;
}

/** `mktemp -d <workDir>/coffer-<backupId>-XXXXXX` (0700), removed when the guardian ends or the connection goes. */
async function openPrivateFolder(job: StartedJob): Promise<PrivateFolder> {
  const where = `on ${job.serverName}`;
  const start = await holdPrivateFolder(job.reach, job.workDir, `coffer-${job.backupId}`, { signal: job.signal });
  if ("failed" in start)
    throw new AppError(
      "UPSTREAM",
      `Could not create a private folder in ${job.workDir} ${where}: ${firstLines(start.failed.stderrTail) || "mktemp failed"}.`,
    );
  const { guardian } = start;
  const close = async () => {
    const exit = await guardian.end();
    if (exit.code !== 0)
      throw new AppError(
        "UPSTREAM",
        `Could not remove the private folder ${where}: ${firstLines(exit.stderrTail) || `exit ${exit.code ?? exit.signal}`}.`,
      );
  };
  return { dir: guardian.dir, close };
}

/** The plan with each cluster's databases (listed now) added to the databases to dump. */
async function withClusterDatabases(job: StartedJob, listed: Plan) {
  const clusterDatabases = new Map<string, string[]>();
  const postgres = [...listed.postgres];
  for (const c of listed.clusters) {
    const { databases, missing } = await listClusterDatabases(job, c);
    clusterDatabases.set(
      c.id,
      databases.map((d) => d.database),
    );
    postgres.push(...databases);
    job.onStep?.(
      `${c.name}: ${databases.length} database(s) to back up (${databases.map((d) => d.database).join(", ")})` +
        (c.excludes.length ? `; excluded: ${c.excludes.join(", ")}` : "") +
        (missing.length ? `; excluded but not on this PostgreSQL: ${missing.join(", ")}` : "") +
        ".",
    );
  }
  return { plan: { ...listed, postgres }, clusterDatabases };
}

/** The first cluster's roles go to GLOBALS_PATH, another's (a second PostgreSQL on the server) beside it. */
const globalsPath = (c: ArchiveSource, plan: Plan) =>
  plan.clusters[0]?.id === c.id ? GLOBALS_PATH : `postgres/globals-${c.id}.sql`;

function manifestSource(s: ArchiveSource, plan: Plan, clusterDatabases: Map<string, string[]>): ManifestSource {
  const { id, name } = s;
  if (s.kind === "directory") return { kind: "directory", id, name, paths: s.paths, excludes: s.excludes };
  const connection = { id, name, host: s.host, port: s.port, database: s.database, user: s.user };
  if (s.kind === "postgres") return { kind: "postgres", ...connection };
  return {
    kind: "postgres_cluster",
    ...connection,
    excludes: s.excludes,
    databases: clusterDatabases.get(id)!,
    globals: { path: globalsPath(s, plan), rolePasswords: s.rolePasswords },
  };
}

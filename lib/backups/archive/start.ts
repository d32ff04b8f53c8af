import "server-only";
import { PassThrough } from "node:stream";
import { finished } from "node:stream/promises";
import { AppError } from "@/lib/errors";
import { firstLines, holdPrivateFolder, runCommand, type RunningCommand } from "@/lib/reach";
import {
  MANIFEST_FORMAT,
  MANIFEST_PATH,
  manifestSchema,
  type Manifest,
  type ManifestSource,
  type PostgresDump,
} from "../manifest";
import { dumpDatabase } from "./dump-postgres";
import { planJob, type ArchiveJob, type ArchiveSource, type Plan, type RunningArchive, type StartedJob } from "./job";
import { hashEntries, listDirectories } from "./list-and-hash";
import { preflight } from "./preflight";
import { mustRun, writeRemote } from "./remote";

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

async function run(job: StartedJob, plan: Plan, out: PassThrough): Promise<Manifest> {
  const { reach, signal } = job;
  const step = (m: string) => job.onStep?.(m);
  const startedAt = new Date().toISOString();
  let guardian: PrivateFolder | undefined;
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

function manifestSource(s: ArchiveSource): ManifestSource {
  return s.kind === "postgres"
    ? { kind: "postgres", id: s.id, name: s.name, host: s.host, port: s.port, database: s.database, user: s.user }
    : { kind: "directory", id: s.id, name: s.name, paths: s.paths, excludes: s.excludes };
}

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

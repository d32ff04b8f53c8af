import "server-only";
import { AppError } from "@/lib/errors";
import { firstLines, runCommand } from "@/lib/reach";
import { explainPsqlError, OWN_SESSION, pgConnectionEnv, pgDumpMajor } from "@/lib/servers/postgres";
import { compressorFor, type Compressor } from "../compression";
import { freeSpaceProblem, LINK_PROBLEM } from "../plan";
import { pgWhere, type Plan, type PostgresArchiveSource, type StartedJob } from "./job";

/** Prints the tools found, tar's and pg_dump's versions, the work folder's state and free space, and each directory path's state. */
const PREFLIGHT = [
  "w=$1; shift",
  'for c in tar gzip pigz igzip find xargs sha256sum stat mktemp pg_dump psql pg_dumpall; do command -v "$c" >/dev/null 2>&1 && echo "tool $c"; done',
  'tar --version 2>/dev/null | head -n 1 | sed "s/^/tarversion /"',
  'pg_dump --version 2>/dev/null | head -n 1 | sed "s/^/pgdump /"',
  'if [ ! -d "$w" ]; then echo "workdir missing"; elif [ ! -w "$w" ] || [ ! -x "$w" ]; then echo "workdir readonly"; else echo "df $(df -Pk "$w" | tail -n 1)"; fi',
  'i=0; for p do if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo "path $i missing"; elif [ -L "$p" ]; then echo "path $i link"; elif [ ! -d "$p" ]; then echo "path $i notdir"; elif [ ! -r "$p" ] || [ ! -x "$p" ]; then echo "path $i unreadable"; fi; i=$((i+1)); done',
  "true",
].join("\n");

interface Preflight {
  compressor: Compressor;
  pgDumpVersion: string;
}

/**
 * Checks tools, the work folder and its free space, directory paths, and each database's size and
 * version (pg_dump must not be older), before anything is written; throws a message saying what to fix.
 */
export async function preflight(job: StartedJob, plan: Plan): Promise<Preflight> {
  const { reach, signal, workDir, serverName } = job;
  const paths = plan.directories.flatMap((d) => d.normalized);
  // The databases are asked while the server is probed; their answers count only once the tools are there.
  const databases = settledFew(plan.postgres, (s) => sizeAndVersion(job, s));
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
    ...(plan.clusters.length ? ["pg_dumpall"] : []),
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
      link: LINK_PROBLEM,
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

  const pgDumpVersion = lines.find((l) => l.startsWith("pgdump "))?.slice(7) ?? "";
  let databaseBytes = 0;
  for (const [i, answer] of (await databases).entries()) {
    if (answer.status === "rejected") throw answer.reason;
    const s = plan.postgres[i]!;
    const { bytes, major } = answer.value;
    const dumpMajor = pgDumpMajor(pgDumpVersion) ?? 0;
    if (dumpMajor < major)
      throw new AppError(
        "UPSTREAM",
        `pg_dump ${dumpMajor} on ${serverName} cannot dump PostgreSQL ${major} (${s.name}): install postgresql-client-${major}.`,
      );
    databaseBytes += bytes;
  }
  const problem = freeSpaceProblem({
    dir: workDir,
    server: serverName,
    freeBytes: freeKib * 1024,
    databaseBytes,
    headroomBytes: job.minFreeBytes,
  });
  if (problem) throw new AppError("VALIDATION", problem);
  const compressor = compressorFor(job.compression ?? "fast", tools)!; // gzip is there: checked above
  return { compressor, pgDumpVersion };
}

/**
 * How many databases are asked at once. Each question is an SSH channel, and sshd allows 10 on a
 * connection by default (MaxSessions): a cluster of dozens asked at once was refused.
 */
const ASKED_AT_ONCE = 4;

/** `Promise.allSettled` of `fn` over `items`, with at most ASKED_AT_ONCE running. */
async function settledFew<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!).then(
        (value) => ({ status: "fulfilled", value }) as const,
        (reason: unknown) => ({ status: "rejected", reason }) as const,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(ASKED_AT_ONCE, items.length) }, worker));
  return results;
}

/** A database's size and major version, or an AppError saying why it cannot be reached. */
async function sizeAndVersion(job: StartedJob, s: PostgresArchiveSource) {
  const q = await runCommand(
    job.reach,
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
      OWN_SESSION + "select pg_database_size(current_database()), current_setting('server_version_num')::int / 10000",
    ],
    { env: pgConnectionEnv(s, `coffer:${job.backupId}`), signal: job.signal },
  );
  if (q.code !== 0) throw new AppError("UPSTREAM", `${s.name}: ${explainPsqlError(q.stderrTail, pgWhere(s))}`);
  const [bytes, major] = q.stdout.trim().split("|").map(Number) as [number, number];
  return { bytes, major };
}

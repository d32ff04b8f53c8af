import "server-only";
import { AppError } from "@/lib/errors";
import { firstLines, runCommand } from "@/lib/reach";
import { CLUSTER_LIST, clusterDatabases, explainPsqlError, OWN_SESSION, pgConnectionEnv } from "@/lib/servers/postgres";
import type { Compressor } from "../compression";
import type { ManifestEntry } from "../manifest";
import { pgWhere, type ClusterArchiveSource, type PostgresArchiveSource, type StartedJob } from "./job";
import { measured, spoolOutput } from "./spool";

export interface ClusterDatabases {
  /** One database source per database to dump (the cluster's id and connection, its database). */
  databases: PostgresArchiveSource[];
  /** Excluded names that are not on the cluster (allowed: listed in the run log). */
  missing: string[];
}

/**
 * Lists a cluster's databases when the backup runs (so databases created since the source was
 * added are included), minus its exclusions and Coffer's scratch databases. Refuses, saying
 * which privilege is missing, a source that asks for password hashes its user cannot read.
 */
export async function listClusterDatabases(job: StartedJob, c: ClusterArchiveSource): Promise<ClusterDatabases> {
  const q = await runCommand(
    job.reach,
    ["psql", "-X", "-A", "-t", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-c", OWN_SESSION + CLUSTER_LIST],
    {
      env: pgConnectionEnv(c, `coffer:${job.backupId}`),
      signal: job.signal,
    },
  );
  if (q.code === 127)
    throw new AppError(
      "UPSTREAM",
      `psql is not installed on ${job.serverName} (PostgreSQL client: apt install postgresql-client).`,
    );
  if (q.code !== 0) throw new AppError("UPSTREAM", `${c.name}: ${explainPsqlError(q.stderrTail, pgWhere(c))}`);
  const answer = clusterDatabases(q.stdout, c);
  if (answer.authidMissing) throw new AppError("VALIDATION", answer.authidMissing);
  const names = answer.included;
  if (!names.length)
    throw new AppError(
      "VALIDATION",
      `${c.name}: every database on ${c.host}:${c.port} is excluded; nothing is left to back up. Remove an exclusion.`,
    );
  const { kind: _kind, excludes: _excludes, rolePasswords: _rolePasswords, ...connection } = c;
  return {
    databases: names.map((d) => ({ ...connection, kind: "postgres", database: d.name, owner: d.owner })),
    missing: answer.missing,
  };
}

/** `pg_dumpall --globals-only` (roles, memberships, tablespaces) compressed into `spool`, as the archive's `path`. */
export async function dumpGlobals(
  job: StartedJob,
  c: ClusterArchiveSource,
  target: { spool: string; path: string; compressor: Compressor },
): Promise<ManifestEntry> {
  const { reach, signal } = job;
  const out = await spoolOutput(
    reach,
    [
      "pg_dumpall",
      "-w",
      "--globals-only",
      `--database=${c.database}`,
      ...(c.rolePasswords ? [] : ["--no-role-passwords"]),
    ],
    target.spool,
    target.compressor,
    { env: pgConnectionEnv(c, `coffer:${job.backupId}`), signal },
  );
  if (out.code !== 0) {
    const text = explainPsqlError(out.stderrTail, pgWhere(c));
    throw new AppError(
      "UPSTREAM",
      `pg_dumpall of the roles and tablespaces (${c.name}) failed: ${text.startsWith("psql failed:") ? firstLines(out.stderrTail) : text}`,
    );
  }
  return measured(reach, out, target.path);
}

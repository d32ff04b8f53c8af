import "server-only";
import type { Readable } from "node:stream";
import { AppError } from "@/lib/errors";
import type { Reach } from "@/lib/reach";
import type { PgConnection } from "@/lib/servers/postgres";
import type { CompressionSetting } from "../compression";
import type { Manifest } from "../manifest";
import { checkBackupId, normalizePaths } from "../plan";

/** A database to dump: where and as whom to connect (`hostaddr` pins a local server's checked address). */
export interface PostgresArchiveSource extends PgConnection {
  kind: "postgres";
  id: string;
  name: string;
  /** A whole cluster's database: its owner, for the manifest. */
  owner?: string;
}
export interface DirectoryArchiveSource {
  kind: "directory";
  id: string;
  name: string;
  paths: string[];
  excludes: string[];
}
/** Every database of a PostgreSQL (listed when the backup runs) and its roles and tablespaces; `database` is the maintenance database. */
export interface ClusterArchiveSource extends PgConnection {
  kind: "postgres_cluster";
  id: string;
  name: string;
  /** Databases left out (names not on the cluster are listed in the run log). */
  excludes: string[];
  /** Include the roles' password hashes in the globals (off: `--no-role-passwords`). */
  rolePasswords: boolean;
}
export type ArchiveSource = PostgresArchiveSource | DirectoryArchiveSource | ClusterArchiveSource;

export interface ArchiveJob {
  reach: Reach;
  /** Absolute folder on the server for the run's private folder (the compressed dumps, file lists). */
  workDir: string;
  /** The server's name, for the manifest and messages. */
  serverName: string;
  /** Letters, digits, `_`, `-` (part of the private folder's name). */
  backupId: string;
  sources: ArchiveSource[];
  cofferVersion: string;
  /** How hard to compress (default fast): lib/backups/compression.ts picks the tool the server has. */
  compression?: CompressionSetting;
  /** Cancels the backup: commands are killed, the private folder removed, `done` rejects with the reason. */
  signal?: AbortSignal;
  /** Seconds pg_dump waits for a table another session holds locked (default BACKUP_LOCK_WAIT). */
  lockWaitSeconds?: number;
  /** Free space to keep in the work folder beyond the estimated size of the compressed dumps (default 64 MiB). */
  minFreeBytes?: number;
  /** Called with one line per step, for the run log. */
  onStep?: (message: string) => void;
  /**
   * Called about once a second while databases are dumped, with the compressed bytes spooled so
   * far: the bulk of what the archive will carry, which streams only once the dumps end.
   */
  onSpooled?: (bytes: number) => void;
}

export interface RunningArchive {
  /** The `.tar.gz` bytes, streamed from the server. Ends only after a complete, successful run;
   * otherwise it is destroyed with the same error `done` rejects with. */
  stream: Readable;
  /** Resolves once the stream ended, the server-side pipeline exited 0 and the private folder was
   * removed; rejects with an AppError (or the abort reason when cancelled) otherwise. */
  done: Promise<Manifest>;
}

/** A job once started: `signal` also fires when the consumer of the stream goes away. */
export type StartedJob = ArchiveJob & { signal: AbortSignal };

export interface Plan {
  /** The databases to dump: the database sources', then (once listed: see cluster.ts) each cluster's. */
  postgres: PostgresArchiveSource[];
  clusters: ClusterArchiveSource[];
  directories: (DirectoryArchiveSource & { normalized: string[] })[];
}

/** Checks the job and sorts its sources; throws VALIDATION for an invalid one. */
export function planJob(job: ArchiveJob): Plan {
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
  const clusters = job.sources.filter((s): s is ClusterArchiveSource => s.kind === "postgres_cluster");
  return { postgres, clusters, directories };
}

/** Where a source's database is, for explaining psql's errors. */
export const pgWhere = (s: PostgresArchiveSource | ClusterArchiveSource) => ({
  pgHost: s.host,
  pgPort: s.port,
  pgDatabase: s.database,
  pgUser: s.user,
});

import "server-only";
import { eq } from "drizzle-orm";
import { restores, sources } from "@/db/schema";
import { postgresSource } from "../backups/server-archive";
import type { BackupRow } from "../backups/open-archive";
import { db } from "../db";
import { AppError } from "../errors";
import type { RunningJob } from "../jobs/table";
import type { PgConnection } from "../servers/postgres";
import { isDatabaseKind } from "../servers/schemas";
import { inTeam, type TeamContext } from "../teams/context";

export type RestoreRow = typeof restores.$inferSelect;

/** What a running restore or verification works with. */
export interface RestoreCtx {
  t: TeamContext;
  job: RestoreRow;
  /** The claim this process holds: every write of the job is guarded by it. */
  claim: RunningJob;
  backup: BackupRow;
  server: { name: string; kind: "ssh" | "local" };
  signal: AbortSignal;
  say: (line: string) => void;
  onBytes: (n: number) => void;
  /** The stored copy being read, and those found damaged (fromIntactCopy reads another). */
  copies: { reading: { id: string; name: string; others: number } | null; damaged: Set<string> };
}

export type DatabaseOutcome = {
  kind: "database";
  database: string;
  tables: number;
  rows: number;
  safetyBackupId: string | null;
};
export type FoldersOutcome = { kind: "directory"; path: string; files: number; bytes: number };

/** What a finished job reports (a workflow step's output: ids, names and counts only). */
export type RestoreOutcome = { backupId: string } & (
  DatabaseOutcome | FoldersOutcome | { kind: "verify"; verified: boolean; differences: number }
);

/** The PostgreSQL connection of a database source, as the job's server reaches it. */
export async function connectionOf(
  t: TeamContext,
  serverKind: "ssh" | "local",
  sourceId: string,
  purpose: string,
): Promise<PgConnection & { id: string }> {
  const d = await db();
  const [s] = await d
    .select()
    .from(sources)
    .where(inTeam(sources, t, eq(sources.id, sourceId)));
  if (!s || !isDatabaseKind(s.kind))
    throw new AppError(
      "NOT_FOUND",
      `The database source ${purpose} was deleted. Choose another connection and start again.`,
    );
  return postgresSource(t, serverKind, s);
}

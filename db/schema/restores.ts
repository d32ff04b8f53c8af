import {
  bigint,
  boolean,
  bigserial,
  foreignKey,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  unique,
} from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";
import { createdAt, idColumn, timestampColumn } from "../columns";
import { backups } from "./backups";
import { servers, sources } from "./servers";
import { teams } from "./teams";

export const restoreKindEnum = pgEnum("restore_kind", ["database", "directory", "verify"]);
export const restoreStatusEnum = pgEnum("restore_status", ["queued", "running", "succeeded", "failed", "cancelled"]);

/** What a verification found: the checks done, and every difference from the manifest. */
export type VerificationResult = {
  tables: number;
  files: number;
  databases: { member: string; database: string; tables: number; rows: number }[];
  differences: string[];
};

/** What a finished restore put in place: the database with each table's rows (the first 200 tables), or the folder. */
export type RestoredSummary =
  | { kind: "database"; database: string; tables: number; rows: number; counts: { table: string; rows: number }[] }
  | { kind: "directory"; path: string; files: number; bytes: number };

/**
 * A restore or a verification of one backup, run by a workflow on one server. Status moves only
 * forward (queued → running → succeeded | failed | cancelled), each step one guarded UPDATE.
 * - database: `member` (the dump inside the archive) into `targetDatabase`, reached with the
 *   PostgreSQL connection of source `connectionSourceId`; `mode` new or replace.
 * - directory: archive members under `members` into `targetPath`; `mode` fresh or overwrite.
 * - verify: every dump into a scratch database, every file checked against the manifest.
 * A restore loads into `scratchDatabase` (reached with source `scratchSourceId`'s connection)
 * and, once the whole dump loaded and was counted, swaps it into place in one transaction, so the
 * target never holds a half-restored database; `swapStartedAt` marks the point after which the job
 * can no longer be cancelled, and `scratchDroppedAt` records that the scratch is gone.
 */
export const restores = pgTable(
  "restores",
  {
    id: idColumn("rst"),
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    backupId: text("backup_id").notNull(),
    kind: restoreKindEnum("kind").notNull(),
    status: restoreStatusEnum("status").notNull().default("queued"),
    /** The server it runs on: the restore's target, or the verification server. */
    serverId: text("server_id").notNull(),
    /** Whose PostgreSQL connection (host, port, user, password) reaches the target; null: each dump's own source. */
    connectionSourceId: text("connection_source_id"),
    members: jsonb("members").$type<string[]>().notNull().default([]),
    targetDatabase: text("target_database"),
    targetPath: text("target_path"),
    mode: text("mode").$type<"new" | "replace" | "fresh" | "overwrite">(),
    /** database: the archive's `postgres/globals.sql` (roles, tablespaces) is applied before the dump. */
    withGlobals: boolean("with_globals").notNull().default(false),
    scratchDatabase: text("scratch_database"),
    scratchSourceId: text("scratch_source_id"),
    scratchDroppedAt: timestampColumn("scratch_dropped_at"),
    swapStartedAt: timestampColumn("swap_started_at"),
    /** Replace mode: the backup of the target taken before it was dropped. */
    safetyBackupId: text("safety_backup_id"),
    requestedBy: text("requested_by"),
    startedAt: timestampColumn("started_at"),
    finishedAt: timestampColumn("finished_at"),
    heartbeatAt: timestampColumn("heartbeat_at"),
    attempts: integer("attempts").notNull().default(0),
    /** The process (workflow instance) holding the current claim; cleared when an attempt ends cleanly. */
    claimedBy: text("claimed_by"),
    /** When the current attempt made its claim (its own start; `startedAt` is the first attempt's). */
    attemptStartedAt: timestampColumn("attempt_started_at"),
    /** Bytes of the plain archive read so far, of `totalBytes`. */
    bytesDone: bigint("bytes_done", { mode: "number" }).notNull().default(0),
    totalBytes: bigint("total_bytes", { mode: "number" }),
    result: jsonb("result").$type<VerificationResult>(),
    restored: jsonb("restored").$type<RestoredSummary>(),
    error: text("error"),
    cancelRequestedAt: timestampColumn("cancel_requested_at"),
    cancelRequestedBy: text("cancel_requested_by"),
    createdAt: createdAt(),
  },
  (t) => [
    unique("restores_team_id_key").on(t.teamId, t.id),
    foreignKey({
      name: "restores_backup_fk",
      columns: [t.teamId, t.backupId],
      foreignColumns: [backups.teamId, backups.id],
    }).onDelete("cascade"),
    foreignKey({
      name: "restores_server_fk",
      columns: [t.teamId, t.serverId],
      foreignColumns: [servers.teamId, servers.id],
    }).onDelete("cascade"),
    // NO ACTION: these sources are on the restore's own server (deleted with it); deleting only the
    // source clears them first (lib/servers). The safety backup is of that server too.
    foreignKey({
      name: "restores_connection_source_fk",
      columns: [t.teamId, t.connectionSourceId],
      foreignColumns: [sources.teamId, sources.id],
    }),
    foreignKey({
      name: "restores_scratch_source_fk",
      columns: [t.teamId, t.scratchSourceId],
      foreignColumns: [sources.teamId, sources.id],
    }),
    foreignKey({
      name: "restores_safety_backup_fk",
      columns: [t.teamId, t.safetyBackupId],
      foreignColumns: [backups.teamId, backups.id],
    }),
    // A backup's restore history, newest first, read from the index (ties ordered by id).
    index("restores_backup_idx").on(t.teamId, t.backupId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index("restores_active_idx")
      .on(t.status, t.heartbeatAt)
      .where(sql`status in ('queued', 'running') or (scratch_database is not null and scratch_dropped_at is null)`),
  ],
);

/** The restore's log: one line per step or error. */
export const restoreLogs = pgTable(
  "restore_logs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    teamId: text("team_id").notNull(),
    restoreId: text("restore_id").notNull(),
    level: text("level").$type<"info" | "error">().notNull(),
    message: text("message").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    foreignKey({
      name: "restore_logs_restore_fk",
      columns: [t.teamId, t.restoreId],
      foreignColumns: [restores.teamId, restores.id],
    }).onDelete("cascade"),
    index("restore_logs_restore_idx").on(t.restoreId, t.id),
  ],
);

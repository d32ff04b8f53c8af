import {
  bigint,
  bigserial,
  boolean,
  foreignKey,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  unique,
} from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";
import { createdAt, idColumn, timestampColumn } from "../columns";
import { compressionEnum, encryptionEnum, schedules } from "./schedules";
import { servers, sources } from "./servers";
import { storageDestinations } from "./storage";
import { teams } from "./teams";

export const backupStatusEnum = pgEnum("backup_status", [
  "queued",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "trashed",
  "expired",
]);
/** "import": taken back in from a destination's objects (Scan for backups), after the catalogue was lost. */
export const backupTriggerEnum = pgEnum("backup_trigger", ["manual", "schedule", "api", "upload", "safety", "import"]);

/**
 * One backup run and, once it succeeded, the backup it produced. Status moves forward (queued →
 * running → succeeded | failed | cancelled), each step one guarded UPDATE. A succeeded backup that
 * retention or an admin removes goes to the trash (trashed, its objects still stored) for the
 * team's grace period, from where an admin can put it back (succeeded); then it is expired (its
 * objects deleted) and stays as history: who or what removed it, and why.
 */
export const backups = pgTable(
  "backups",
  {
    id: idColumn("bkp"),
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    serverId: text("server_id").notNull(),
    /** Kept as history when the schedule is deleted (lib/schedules clears it first). */
    scheduleId: text("schedule_id"),
    /** The schedule slot this run is for: unique per schedule, so a slot never runs twice. */
    scheduledFor: timestampColumn("scheduled_for"),
    trigger: backupTriggerEnum("trigger").notNull(),
    status: backupStatusEnum("status").notNull().default("queued"),
    encrypted: boolean("encrypted").notNull(),
    /** When encrypted: Coffer's format, or an OpenPGP message whose session key `dekWrapped` holds. */
    encryption: encryptionEnum("encryption").notNull().default("coffer"),
    compression: compressionEnum("compression").notNull().default("fast"),
    requestedBy: text("requested_by"), // e-mail or "system: …"; no FK, the record outlives the user
    /** The file name a download gets: `<server>-<yyyymmdd-hhmmss>.tar.gz`. */
    fileName: text("file_name").notNull(),
    /** The data key wrapped by a master key (FORMAT.md), base64, and that key's id; re-wrapped by rotation. */
    dekWrapped: text("dek_wrapped"),
    dekKeyId: text("dek_key_id"),
    /** The master key the stored object's own header names (what offline decryption needs); rotation leaves it. */
    headerKeyId: text("header_key_id"),
    /**
     * The team the stored object's header names, when it is not this team: a backup taken back in
     * from storage that an earlier team id made (lib/catalogue). Null for everything else.
     */
    headerTeamId: text("header_team_id"),
    startedAt: timestampColumn("started_at"),
    finishedAt: timestampColumn("finished_at"),
    /** Updated at least every 2 s while running; a running row with an old heartbeat belongs to a dead process. */
    heartbeatAt: timestampColumn("heartbeat_at"),
    attempts: integer("attempts").notNull().default(0),
    /** The process (workflow instance) holding the current claim; cleared when an attempt ends cleanly. */
    claimedBy: text("claimed_by"),
    /** When the current attempt made its claim (its own start; `startedAt` is the first attempt's). */
    attemptStartedAt: timestampColumn("attempt_started_at"),
    /** Bytes written so far (the stored object's bytes), while running and at the end. */
    bytesDone: bigint("bytes_done", { mode: "number" }).notNull().default(0),
    /** Size and SHA-256 of the stored object (encrypted when `encrypted`). */
    sizeBytes: bigint("size_bytes", { mode: "number" }),
    sha256: text("sha256"),
    /** Size of the plain `.tar.gz` (what a download delivers). */
    archiveBytes: bigint("archive_bytes", { mode: "number" }),
    /**
     * Room on this host's disk an upload holds against LOCAL_STORAGE_QUOTA while it runs. Counted
     * only while running: finishing, failing or the sweeper failing a dead process's run releases it.
     */
    reservedBytes: bigint("reserved_bytes", { mode: "number" }),
    manifest: jsonb("manifest").$type<Record<string, unknown>>(),
    /** An upload: the name of the file the user sent, and when the archive itself was made (its manifest's end, else its first member's time). */
    uploadedName: text("uploaded_name"),
    archivedAt: timestampColumn("archived_at"),
    error: text("error"),
    /**
     * Set when removing what a run that did not finish left behind (partial objects, temporary
     * uploads, its work folder on the server) failed somewhere; the sweeper tries again later.
     */
    leftoversPendingAt: timestampColumn("leftovers_pending_at"),
    /** While a download (or restore, verification) reads it, retention leaves it alone. */
    readingUntil: timestampColumn("reading_until"),
    /** The retention tier keeping it (daily, weekly, monthly, yearly); its objects' class follows. */
    tier: text("tier"),
    /** In the trash since (its objects are deleted once the team's grace period is over), by whom, why. */
    trashedAt: timestampColumn("trashed_at"),
    trashedBy: text("trashed_by"),
    trashedReason: text("trashed_reason"),
    /** Put back from the trash by an admin: retention leaves it alone from then on. */
    pinnedAt: timestampColumn("pinned_at"),
    expiredAt: timestampColumn("expired_at"),
    expiredReason: text("expired_reason"),
    cancelRequestedAt: timestampColumn("cancel_requested_at"),
    cancelRequestedBy: text("cancel_requested_by"),
    /**
     * A verification is requested when the run succeeds (Back up now's choice; a schedule's slots
     * follow the schedule's setting instead), on this PostgreSQL source's connection (null: each
     * database's own).
     */
    verify: boolean("verify").notNull().default(false),
    verifySourceId: text("verify_source_id"),
    /** The last verification that passed (retention never expires the latest verified backup). */
    verifiedAt: timestampColumn("verified_at"),
    /** The latest verification's outcome, for the list's indicator. */
    verification: jsonb("verification").$type<{
      status: "verified" | "failed";
      at: string;
      restoreId: string;
      tables: number;
      files: number;
      differences: string[];
    }>(),
    createdAt: createdAt(),
  },
  (t) => [
    unique("backups_team_id_key").on(t.teamId, t.id),
    unique("backups_schedule_slot_key").on(t.scheduleId, t.scheduledFor),
    foreignKey({
      name: "backups_server_fk",
      columns: [t.teamId, t.serverId],
      foreignColumns: [servers.teamId, servers.id],
    }).onDelete("cascade"),
    // NO ACTION: a composite key cannot set only schedule_id null, so deleting a schedule detaches its backups first.
    foreignKey({
      name: "backups_schedule_fk",
      columns: [t.teamId, t.scheduleId],
      foreignColumns: [schedules.teamId, schedules.id],
    }),
    // NO ACTION: deleting the source clears verify_source_id first (lib/servers), as for schedules.
    foreignKey({
      name: "backups_verify_source_fk",
      columns: [t.teamId, t.verifySourceId],
      foreignColumns: [sources.teamId, sources.id],
    }),
    // The lists, newest first, read from an index at any size: the team's, and a server's (its page).
    // NULLS FIRST is what a plain `order by … desc` means; an index in another null order is not used for it.
    index("backups_team_time_idx").on(t.teamId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index("backups_server_time_idx").on(
      t.teamId,
      t.serverId,
      t.createdAt.desc().nullsFirst(),
      t.id.desc().nullsFirst(),
    ),
    index("backups_trash_idx")
      .on(t.teamId, t.trashedAt)
      .where(sql`trashed_at is not null`),
    index("backups_active_idx")
      .on(t.status, t.heartbeatAt)
      .where(sql`status in ('queued', 'running')`),
  ],
);

/** What a backup run backs up, fixed when it is requested. */
export const backupSources = pgTable(
  "backup_sources",
  {
    teamId: text("team_id").notNull(),
    backupId: text("backup_id").notNull(),
    sourceId: text("source_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.backupId, t.sourceId] }),
    foreignKey({
      name: "backup_sources_backup_fk",
      columns: [t.teamId, t.backupId],
      foreignColumns: [backups.teamId, backups.id],
    }).onDelete("cascade"),
    // A source in use by a queued or running backup cannot be deleted (lib/servers refuses).
    foreignKey({
      name: "backup_sources_source_fk",
      columns: [t.teamId, t.sourceId],
      foreignColumns: [sources.teamId, sources.id],
    }).onDelete("cascade"),
    index("backup_sources_source_idx").on(t.teamId, t.sourceId),
  ],
);

/** Where a backup run writes, fixed when it is requested. */
export const backupDestinations = pgTable(
  "backup_destinations",
  {
    teamId: text("team_id").notNull(),
    backupId: text("backup_id").notNull(),
    destinationId: text("destination_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.backupId, t.destinationId] }),
    foreignKey({
      name: "backup_destinations_backup_fk",
      columns: [t.teamId, t.backupId],
      foreignColumns: [backups.teamId, backups.id],
    }).onDelete("cascade"),
    foreignKey({
      name: "backup_destinations_destination_fk",
      columns: [t.teamId, t.destinationId],
      foreignColumns: [storageDestinations.teamId, storageDestinations.id],
    }).onDelete("cascade"),
    index("backup_destinations_destination_idx").on(t.teamId, t.destinationId),
  ],
);

export const locationStatusEnum = pgEnum("backup_location_status", ["writing", "stored", "failed", "deleted"]);

/** One stored copy of a backup in one destination. */
export const backupLocations = pgTable(
  "backup_locations",
  {
    id: idColumn("loc"),
    teamId: text("team_id").notNull(),
    backupId: text("backup_id").notNull(),
    destinationId: text("destination_id").notNull(),
    objectKey: text("object_key").notNull(),
    status: locationStatusEnum("status").notNull().default("writing"),
    sizeBytes: bigint("size_bytes", { mode: "number" }),
    sha256: text("sha256"),
    storageClass: text("storage_class"),
    /** Archive classes (S3 GLACIER / DEEP_ARCHIVE, Azure Archive): when Coffer asked the provider for a readable copy, and when it expects it. */
    retrievalRequestedAt: timestampColumn("retrieval_requested_at"),
    retrievalReadyAt: timestampColumn("retrieval_ready_at"),
    error: text("error"),
    /** What a read found wrong with this copy (failed authentication, another SHA-256 or length): it is read last until a whole read passes. */
    damage: text("damage"),
    createdAt: createdAt(),
  },
  (t) => [
    unique("backup_locations_backup_destination_key").on(t.backupId, t.destinationId),
    foreignKey({
      name: "backup_locations_backup_fk",
      columns: [t.teamId, t.backupId],
      foreignColumns: [backups.teamId, backups.id],
    }).onDelete("cascade"),
    // A destination that still holds backups cannot be deleted (they would be lost track of).
    foreignKey({
      name: "backup_locations_destination_fk",
      columns: [t.teamId, t.destinationId],
      foreignColumns: [storageDestinations.teamId, storageDestinations.id],
    }).onDelete("no action"),
    index("backup_locations_destination_idx").on(t.teamId, t.destinationId),
    // A page's locations by (team, backup), rather than every location of the team's destination.
    index("backup_locations_backup_idx").on(t.teamId, t.backupId),
  ],
);

/** The run log: one line per step or error, shown on the run page. */
export const backupLogs = pgTable(
  "backup_logs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    teamId: text("team_id").notNull(),
    backupId: text("backup_id").notNull(),
    level: text("level").$type<"info" | "error">().notNull(),
    message: text("message").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    foreignKey({
      name: "backup_logs_backup_fk",
      columns: [t.teamId, t.backupId],
      foreignColumns: [backups.teamId, backups.id],
    }).onDelete("cascade"),
    index("backup_logs_backup_idx").on(t.backupId, t.id),
  ],
);

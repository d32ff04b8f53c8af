import {
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
import { servers, sources } from "./servers";
import { storageDestinations } from "./storage";
import { teams } from "./teams";

/** A grandfather–father–son policy (lib/retention/select.ts): counts per period, or keep everything. */
export type RetentionPolicyJson = {
  keepAll: boolean;
  last: number;
  daily: number;
  weekly: number;
  monthly: number;
  yearly: number;
};
export const runbookPolicy: RetentionPolicyJson = {
  keepAll: false,
  last: 0,
  daily: 7,
  weekly: 4,
  monthly: 6,
  yearly: 0,
};

/** How a backup's archive is compressed (lib/backups/compression.ts): always gzip, by the fastest tool for the setting. */
export const compressionEnum = pgEnum("compression", ["fast", "balanced", "small"]);

/** How an encrypted backup is sealed: Coffer's own format (docs/FORMAT.md) or one OpenPGP message to the team's keys (docs/OPENPGP.md). */
export const encryptionEnum = pgEnum("encryption", ["coffer", "openpgp"]);

/** When to back up which sources of a server, and where the backups go. */
export const schedules = pgTable(
  "schedules",
  {
    id: idColumn("sch"),
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    serverId: text("server_id").notNull(),
    name: text("name").notNull(),
    cron: text("cron").notNull(),
    timezone: text("timezone").notNull(),
    encrypted: boolean("encrypted").notNull().default(true),
    /** The format of its encrypted backups (unused when not encrypted). */
    encryption: encryptionEnum("encryption").notNull().default("coffer"),
    enabled: boolean("enabled").notNull().default(true),
    retention: jsonb("retention").$type<RetentionPolicyJson>().notNull().default(runbookPolicy),
    /** Verify every backup of the schedule by restoring it into a scratch database. */
    verify: boolean("verify").notNull().default(true),
    /** How the schedule's backups are compressed (lib/backups/compression.ts). */
    compression: compressionEnum("compression").notNull().default("fast"),
    /** Whose PostgreSQL connection verification uses (a database source, on any server); null: each database's own. */
    verifySourceId: text("verify_source_id"),
    /** How long past its interval a schedule may go without a successful backup before it is stale; null: one more interval. */
    staleGraceMinutes: integer("stale_grace_minutes"),
    /** The next slot to run; null while paused. The tick finds due schedules by this column. */
    nextRunAt: timestampColumn("next_run_at"),
    createdAt: createdAt(),
  },
  (t) => [
    unique("schedules_team_id_key").on(t.teamId, t.id),
    unique("schedules_team_name_key").on(t.teamId, t.name),
    foreignKey({
      name: "schedules_server_fk",
      columns: [t.teamId, t.serverId],
      foreignColumns: [servers.teamId, servers.id],
    }).onDelete("cascade"),
    // NO ACTION: deleting the source clears verify_source_id first (lib/servers).
    foreignKey({
      name: "schedules_verify_source_fk",
      columns: [t.teamId, t.verifySourceId],
      foreignColumns: [sources.teamId, sources.id],
    }),
    index("schedules_due_idx")
      .on(t.nextRunAt)
      .where(sql`enabled`),
  ],
);

// Deleting a source or destination that a schedule uses is refused by lib/ (backups would silently
// stop covering it); the cascades here only let a whole server or team go at once.
export const scheduleSources = pgTable(
  "schedule_sources",
  {
    teamId: text("team_id").notNull(),
    scheduleId: text("schedule_id").notNull(),
    sourceId: text("source_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.scheduleId, t.sourceId] }),
    foreignKey({
      name: "schedule_sources_schedule_fk",
      columns: [t.teamId, t.scheduleId],
      foreignColumns: [schedules.teamId, schedules.id],
    }).onDelete("cascade"),
    foreignKey({
      name: "schedule_sources_source_fk",
      columns: [t.teamId, t.sourceId],
      foreignColumns: [sources.teamId, sources.id],
    }).onDelete("cascade"),
  ],
);

export const scheduleDestinations = pgTable(
  "schedule_destinations",
  {
    teamId: text("team_id").notNull(),
    scheduleId: text("schedule_id").notNull(),
    destinationId: text("destination_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.scheduleId, t.destinationId] }),
    foreignKey({
      name: "schedule_destinations_schedule_fk",
      columns: [t.teamId, t.scheduleId],
      foreignColumns: [schedules.teamId, schedules.id],
    }).onDelete("cascade"),
    foreignKey({
      name: "schedule_destinations_destination_fk",
      columns: [t.teamId, t.destinationId],
      foreignColumns: [storageDestinations.teamId, storageDestinations.id],
    }).onDelete("cascade"),
  ],
);

import { boolean, foreignKey, index, integer, jsonb, pgEnum, pgTable, text, unique } from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";
import { createdAt, idColumn, secretColumn, timestampColumn } from "../columns";
import { schedules } from "./schedules";
import { teams } from "./teams";
import { users } from "./users";

export const channelKindEnum = pgEnum("channel_kind", ["webhook", "email", "slack", "discord", "teams"]);

/**
 * Where a team's notifications go (the Webhooks page): a signed webhook endpoint, e-mail to roles
 * and addresses, or a Slack / Discord / Microsoft Teams incoming webhook. A chat URL carries its
 * own credential and a webhook's may carry a token, so both are sealed (`url_enc`) and only the
 * host is shown (`url_hint`).
 */
export const notificationChannels = pgTable(
  "notification_channels",
  {
    id: idColumn("chn"),
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    kind: channelKindEnum("kind").notNull(),
    description: text("description").notNull().default(""),
    /** Only a webhook URL an earlier version saved in plain text, until start() seals it into `url_enc`. */
    url: text("url"),
    urlEnc: secretColumn("url_enc"),
    urlHint: text("url_hint"),
    /** Event types sent to this channel; empty: every event. */
    events: jsonb("events").$type<string[]>().notNull().default([]),
    enabled: boolean("enabled").notNull().default(true),
    /** A webhook's `whsec_…` signing secret; after a rotation the previous one also signs until `previous_secret_until`. */
    secretEnc: secretColumn("secret_enc"),
    previousSecretEnc: secretColumn("previous_secret_enc"),
    previousSecretUntil: timestampColumn("previous_secret_until"),
    emailRoles: jsonb("email_roles").$type<("owner" | "admin" | "member" | "viewer")[]>().notNull().default([]),
    emailAddresses: jsonb("email_addresses").$type<string[]>().notNull().default([]),
    /**
     * Since the first failed attempt after the last success (or after someone last turned the
     * channel off or on); and deliveries that failed for good since then.
     */
    failingSince: timestampColumn("failing_since"),
    failedInRow: integer("failed_in_row").notNull().default(0),
    /** While a delivery run works on the channel (renewed as it goes): the dispatcher starts no second one. */
    deliveringUntil: timestampColumn("delivering_until"),
    disabledAt: timestampColumn("disabled_at"),
    disabledReason: text("disabled_reason"),
    createdBy: text("created_by"),
    createdAt: createdAt(),
  },
  (t) => [unique("notification_channels_team_id_key").on(t.teamId, t.id)],
);

/** One event as produced (the outbox): the exact JSON body every channel's delivery is made from. */
export const notificationEvents = pgTable(
  "notification_events",
  {
    id: idColumn("evt"),
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    version: integer("version").notNull(),
    body: text("body").notNull(),
    /** Makes producing the same event twice (a retried step) a no-op. */
    dedupeKey: text("dedupe_key"),
    /** A sample sent by "Send test". */
    test: boolean("test").notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [
    unique("notification_events_team_id_key").on(t.teamId, t.id),
    unique("notification_events_dedupe_key").on(t.teamId, t.dedupeKey),
    index("notification_events_created_idx").on(t.createdAt),
  ],
);

export const deliveryStatusEnum = pgEnum("delivery_status", ["pending", "succeeded", "failed"]);

/**
 * One event to one channel: the delivery queue and its log. A pending row is due at
 * `next_attempt_at`; claiming it moves that time forward (a lease), so a process that dies
 * mid-attempt leaves it to be claimed again. The response fields describe the last attempt.
 */
export const notificationDeliveries = pgTable(
  "notification_deliveries",
  {
    id: idColumn("dlv"),
    teamId: text("team_id").notNull(),
    channelId: text("channel_id").notNull(),
    eventId: text("event_id").notNull(),
    status: deliveryStatusEnum("status").notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestampColumn("next_attempt_at").notNull().defaultNow(),
    lastAttemptAt: timestampColumn("last_attempt_at"),
    responseStatus: integer("response_status"),
    /** The first bytes of the last answer (at most 4 KiB are read). */
    responseBody: text("response_body"),
    latencyMs: integer("latency_ms"),
    error: text("error"),
    /** An e-mail channel's recipients this delivery has reached, and those the server refused for good: a retry sends to the others only. */
    emailDone: jsonb("email_done")
      .$type<{ sent: string[]; refused: string[] }>()
      .notNull()
      .default({ sent: [], refused: [] }),
    /** Redeliver makes a new row for the same event; this names the one it repeats. */
    redeliveryOf: text("redelivery_of"),
    createdAt: createdAt(),
  },
  (t) => [
    unique("notification_deliveries_team_id_key").on(t.teamId, t.id),
    foreignKey({
      name: "notification_deliveries_channel_fk",
      columns: [t.teamId, t.channelId],
      foreignColumns: [notificationChannels.teamId, notificationChannels.id],
    }).onDelete("cascade"),
    foreignKey({
      name: "notification_deliveries_event_fk",
      columns: [t.teamId, t.eventId],
      foreignColumns: [notificationEvents.teamId, notificationEvents.id],
    }).onDelete("cascade"),
    index("notification_deliveries_due_idx")
      .on(t.channelId, t.nextAttemptAt)
      .where(sql`status = 'pending'`),
    index("notification_deliveries_log_idx").on(t.teamId, t.channelId, t.createdAt.desc(), t.id.desc()),
    index("notification_deliveries_created_idx").on(t.createdAt),
  ],
);

/** Which notification e-mails a person does not want (event types), across their teams. */
export const notificationPreferences = pgTable("notification_preferences", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  muted: jsonb("muted").$type<string[]>().notNull().default([]),
  updatedAt: timestampColumn("updated_at").notNull().defaultNow(),
});

/**
 * Stale-backup detection's memory per schedule: since when it is watched (the reference when it
 * never succeeded, reset by a pause), and since when it is stale (one `backup.stale` per episode).
 */
export const scheduleHealth = pgTable(
  "schedule_health",
  {
    scheduleId: text("schedule_id").primaryKey(),
    teamId: text("team_id").notNull(),
    watchedSince: timestampColumn("watched_since"),
    staleSince: timestampColumn("stale_since"),
  },
  (t) => [
    foreignKey({
      name: "schedule_health_schedule_fk",
      columns: [t.teamId, t.scheduleId],
      foreignColumns: [schedules.teamId, schedules.id],
    }).onDelete("cascade"),
  ],
);

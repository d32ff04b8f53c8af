import { boolean, foreignKey, jsonb, pgEnum, pgTable, text, unique } from "drizzle-orm/pg-core";
import { createdAt, idColumn, secretColumn, timestampColumn } from "../columns";
import { servers } from "./servers";
import { teams } from "./teams";

export const destinationKindEnum = pgEnum("destination_kind", ["local", "server", "s3", "gcs", "azure"]);

/**
 * Where backups go. `settings` holds what is not secret (bucket, prefix, region, endpoint…);
 * `credentials_enc` the sealed JSON of what is (keys, connection strings, service accounts).
 */
export const storageDestinations = pgTable(
  "storage_destinations",
  {
    id: idColumn("dst"),
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    kind: destinationKindEnum("kind").notNull(),
    settings: jsonb("settings").$type<Record<string, string | boolean>>().notNull(),
    credentialsEnc: secretColumn("credentials_enc"),
    /** Which credential fields are set (names only), so forms can say "set" per field. */
    credentialFields: jsonb("credential_fields").$type<string[]>().notNull().default([]),
    /** For kind "server": the server whose backup directory this is. */
    serverId: text("server_id"),
    classDaily: text("class_daily"),
    classWeekly: text("class_weekly"),
    classMonthly: text("class_monthly"),
    /** Price overrides in USD per GB-month by storage class, for the cost estimate (lib/retention/prices.ts). */
    prices: jsonb("prices").$type<Record<string, number>>(),
    checkedAt: timestampColumn("checked_at"),
    checkOk: boolean("check_ok"),
    checkMessage: text("check_message"),
    createdAt: createdAt(),
  },
  (t) => [
    unique("storage_destinations_team_id_key").on(t.teamId, t.id),
    unique("storage_destinations_team_name_key").on(t.teamId, t.name),
    // A server still holding a destination cannot be deleted out from under it. NO ACTION (checked
    // at the end of the statement) rather than RESTRICT, so deleting a whole team still cascades.
    foreignKey({
      name: "storage_destinations_server_fk",
      columns: [t.teamId, t.serverId],
      foreignColumns: [servers.teamId, servers.id],
    }).onDelete("no action"),
  ],
);

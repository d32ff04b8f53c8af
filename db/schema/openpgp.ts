import { index, pgTable, text, unique } from "drizzle-orm/pg-core";
import { createdAt, idColumn, timestampColumn } from "../columns";
import { teams } from "./teams";

/**
 * A team's OpenPGP public key: OpenPGP backups are encrypted to every key the team has when they
 * are made (lib/openpgp). What the key says about itself is stored as read when it was added.
 */
export const teamOpenpgpKeys = pgTable(
  "team_openpgp_keys",
  {
    id: idColumn("opk"),
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    fingerprint: text("fingerprint").notNull(),
    userIds: text("user_ids").array().notNull(),
    algorithm: text("algorithm").notNull(),
    /** When the key stops encrypting; null: never. */
    expiresAt: timestampColumn("expires_at"),
    /** The public key, armored. */
    armored: text("armored").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    unique("team_openpgp_keys_team_id_key").on(t.teamId, t.id),
    unique("team_openpgp_keys_fingerprint_key").on(t.teamId, t.fingerprint),
    index("team_openpgp_keys_team_idx").on(t.teamId, t.createdAt),
  ],
);

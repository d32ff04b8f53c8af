import { index, integer, jsonb, pgEnum, pgTable, text, unique, uniqueIndex } from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";
import { createdAt, idColumn, timestampColumn } from "../columns";
import { users } from "./users";

export const roleEnum = pgEnum("role", ["owner", "admin", "member", "viewer"]);

export const teams = pgTable("teams", {
  id: idColumn("team"),
  slug: text("slug").notNull().unique(),
  name: text("name").notNull(),
  /** Retention of backups no schedule made (Back up now, API, uploads), per server; by default kept until deleted. */
  defaultRetention: jsonb("default_retention")
    .$type<{ keepAll: boolean; last: number; daily: number; weekly: number; monthly: number; yearly: number }>()
    .notNull()
    .default({ keepAll: true, last: 0, daily: 7, weekly: 4, monthly: 6, yearly: 0 }),
  /** Days a removed backup stays in the trash (its objects kept, restorable by admins) before they are deleted. */
  trashDays: integer("trash_days").notNull().default(7),
  createdAt: createdAt(),
});

export const memberships = pgTable(
  "memberships",
  {
    id: idColumn("mem"),
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: roleEnum("role").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    unique("memberships_team_user_key").on(t.teamId, t.userId),
    unique("memberships_team_id_key").on(t.teamId, t.id),
    index("memberships_user_idx").on(t.userId),
  ],
);

export const invitations = pgTable(
  "invitations",
  {
    id: idColumn("inv"),
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    email: text("email").notNull(),
    role: roleEnum("role").notNull(),
    tokenHash: text("token_hash").notNull().unique(), // SHA-256 of the link token; the token itself is shown once
    invitedBy: text("invited_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    expiresAt: timestampColumn("expires_at").notNull(),
    acceptedAt: timestampColumn("accepted_at"),
    acceptedBy: text("accepted_by").references(() => users.id, { onDelete: "set null" }),
    revokedAt: timestampColumn("revoked_at"),
  },
  (t) => [
    unique("invitations_team_id_key").on(t.teamId, t.id),
    // At most one open invitation per address and team; resending rotates its token.
    uniqueIndex("invitations_open_email_idx")
      .on(t.teamId, t.email)
      .where(sql`accepted_at is null and revoked_at is null`),
  ],
);

/**
 * A team id from before (another Coffer, or this one before its database was lost) that a team
 * claimed to take its backups back in from storage (lib/catalogue): one team per former id.
 */
export const formerTeamIds = pgTable("former_team_ids", {
  formerId: text("former_id").primaryKey(),
  teamId: text("team_id")
    .notNull()
    .references(() => teams.id, { onDelete: "cascade" }),
  claimedBy: text("claimed_by").notNull(),
  createdAt: createdAt(),
});

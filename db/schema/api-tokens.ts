import {
  doublePrecision,
  foreignKey,
  index,
  jsonb,
  pgTable,
  primaryKey,
  text,
  unique,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";
import { createdAt, idColumn, timestampColumn } from "../columns";
import { backups } from "./backups";
import { roleEnum, teams } from "./teams";

/**
 * A team's API token. Only its SHA-256 is stored (the token is shown once); `prefix` is its
 * first characters, to recognise it in lists. It acts with at most `role`, its creator's role
 * when it was made, narrowed further by its scopes (lib/api-tokens/scopes.ts).
 */
export const apiTokens = pgTable(
  "api_tokens",
  {
    id: idColumn("tok"),
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    prefix: text("prefix").notNull(),
    tokenHash: text("token_hash").notNull(),
    scopes: jsonb("scopes").$type<string[]>().notNull(),
    role: roleEnum("role").notNull(),
    createdByUserId: text("created_by_user_id"), // no FK: the record outlives the user
    createdBy: text("created_by").notNull(),
    createdAt: createdAt(),
    expiresAt: timestampColumn("expires_at"),
    lastUsedAt: timestampColumn("last_used_at"),
    lastUsedIp: text("last_used_ip"),
    revokedAt: timestampColumn("revoked_at"),
    revokedBy: text("revoked_by"),
    // Its request bucket (lib/api-tokens/rate.ts), here so every process sharing the database counts the same requests.
    rateTokens: doublePrecision("rate_tokens"),
    rateCheckedAt: timestampColumn("rate_checked_at"),
  },
  (t) => [
    unique("api_tokens_team_id_key").on(t.teamId, t.id),
    uniqueIndex("api_tokens_hash_idx").on(t.tokenHash),
    // Unique among those not revoked, so a list names each; audit rows carry the id too.
    uniqueIndex("api_tokens_active_name_idx")
      .on(t.teamId, t.name)
      .where(sql`revoked_at is null`),
    index("api_tokens_team_idx").on(t.teamId, t.createdAt.desc()),
  ],
);

/**
 * `Idempotency-Key` of an API request that triggers a backup: the same key (and body) within 24 h
 * answers with the same backup. A row without `backupId` is a request still being made.
 */
export const apiIdempotencyKeys = pgTable(
  "api_idempotency_keys",
  {
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    /** SHA-256 of the request body: the same key with another body is refused. */
    requestHash: text("request_hash").notNull(),
    backupId: text("backup_id"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.teamId, t.key] }),
    foreignKey({
      name: "api_idempotency_keys_backup_fk",
      columns: [t.teamId, t.backupId],
      foreignColumns: [backups.teamId, backups.id],
    }).onDelete("cascade"),
  ],
);

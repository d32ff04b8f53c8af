import { index, integer, jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { createdAt, idColumn, timestampColumn } from "../columns";

export const users = pgTable("users", {
  id: idColumn("usr"),
  email: text("email").notNull().unique(), // stored lower-cased
  name: text("name").notNull(),
  passwordHash: text("password_hash"), // null for accounts that only use GitHub / Google
  /** When the owner of the address proved it (a link e-mailed to it, or a provider that verified it). */
  emailVerifiedAt: timestampColumn("email_verified_at"),
  /** The last verification e-mail sent, so "send it again" cannot be used to flood the address. */
  emailVerificationSentAt: timestampColumn("email_verification_sent_at"),
  lastTeamId: text("last_team_id"),
  createdAt: createdAt(),
});

/** One row per sign-in; the session cookie names it, so revoking the row signs that browser out. */
export const userSessions = pgTable(
  "user_sessions",
  {
    id: idColumn("ses"),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    ip: text("ip"),
    userAgent: text("user_agent"),
    createdAt: createdAt(),
    lastSeenAt: timestampColumn("last_seen_at").notNull().defaultNow(),
    expiresAt: timestampColumn("expires_at").notNull(),
    revokedAt: timestampColumn("revoked_at"),
  },
  (t) => [index("user_sessions_user_idx").on(t.userId)],
);

/** GitHub / Google identities linked to a user. */
export const oauthAccounts = pgTable(
  "oauth_accounts",
  {
    provider: text("provider").notNull(),
    providerAccountId: text("provider_account_id").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.provider, t.providerAccountId] })],
);

/** Failed sign-in counters per account and per IP, shared by every app instance. */
export const signInThrottle = pgTable("sign_in_throttle", {
  key: text("key").primaryKey(), // "account:<email>", "ip:<address>", "reset:<email>" or "reset-ip:<address>"
  failures: integer("failures").notNull().default(0),
  windowStartedAt: timestampColumn("window_started_at").notNull().defaultNow(),
  /** The wait its failures impose. */
  lockedUntil: timestampColumn("locked_until"),
  /** An account's password check running now (lib/auth/throttle claims it), not a wait. */
  checkingUntil: timestampColumn("checking_until"),
});

/** Failed sign-ins and attempts refused while an account or address must wait. Never a password. */
export const signInEvents = pgTable(
  "sign_in_events",
  {
    id: idColumn("sie"),
    userId: text("user_id").references(() => users.id, { onDelete: "cascade" }), // null: no such account
    email: text("email").notNull(),
    ip: text("ip"),
    outcome: text("outcome").$type<"failed" | "delayed">().notNull(),
    details: jsonb("details").$type<Record<string, unknown>>(),
    createdAt: createdAt(),
  },
  (t) => [index("sign_in_events_user_time_idx").on(t.userId, t.createdAt)],
);

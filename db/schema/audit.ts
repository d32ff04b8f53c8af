import { index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";
import { idColumn } from "../columns";
import { teams } from "./teams";

/** Who changed what, when and from where. Rows are only ever inserted. */
export const auditEvents = pgTable(
  "audit_events",
  {
    id: idColumn("aud"),
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    actorUserId: text("actor_user_id"), // no FK: the record outlives the user
    actor: text("actor").notNull(), // e-mail, "system: <reason>" or "token <name> (<id>, created by <e-mail>)"
    action: text("action").notNull(), // e.g. "member.role_changed"
    targetType: text("target_type"),
    targetId: text("target_id"),
    targetLabel: text("target_label"),
    ip: text("ip"),
    details: jsonb("details").$type<Record<string, unknown>>(),
    // Microseconds and clock_timestamp(): events keep their order, even several in one transaction
    // (now() is the transaction's start) or in one millisecond; the page cursor carries the exact value.
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" })
      .notNull()
      .default(sql`clock_timestamp()`),
  },
  // Newest first from the index; NULLS FIRST is what a plain `order by … desc` means (db/schema/backups.ts).
  (t) => [index("audit_events_team_time_idx").on(t.teamId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst())],
);

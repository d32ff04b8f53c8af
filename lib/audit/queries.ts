import "server-only";
import { desc, ilike, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import { auditEvents } from "@/db/schema";
import { db } from "../db";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import { parseAuditCursor } from "./cursor";

export const auditFilterSchema = z.object({
  // No control characters: PostgreSQL refuses a NUL in text, and a hand-edited URL could send one.
  action: z
    .string()
    .trim()
    .max(100)
    .regex(/^[^\x00-\x1f]*$/)
    .optional(),
  actor: z
    .string()
    .trim()
    .max(200)
    .regex(/^[^\x00-\x1f]*$/)
    .optional(),
  /** Opaque cursor: the exact time and id of the last row of the previous page. */
  before: z.string().max(100).optional(),
});
export type AuditFilter = z.infer<typeof auditFilterSchema>;

const pageSize = 50;

/** Newest first, keyset-paged so a page stays correct while new events arrive. Admins only. */
export async function listAuditEvents(t: TeamContext, filter: AuditFilter) {
  assertRole(t, "admin");
  const conditions: (SQL | undefined)[] = [];
  if (filter.action) conditions.push(ilike(auditEvents.action, `${escapeLike(filter.action)}%`));
  if (filter.actor) conditions.push(ilike(auditEvents.actor, `%${escapeLike(filter.actor)}%`));
  const cursor = parseAuditCursor(filter.before);
  if (cursor)
    conditions.push(sql`(${auditEvents.createdAt}, ${auditEvents.id}) < (${cursor.at}::timestamptz, ${cursor.id})`);
  const d = await db();
  const rows = await d
    .select({
      id: auditEvents.id,
      at: auditEvents.createdAt,
      actor: auditEvents.actor,
      action: auditEvents.action,
      targetType: auditEvents.targetType,
      targetLabel: auditEvents.targetLabel,
      ip: auditEvents.ip,
      details: auditEvents.details,
      // Explicit UTC format with microseconds: independent of the session's DateStyle and time zone.
      cursor: sql<string>`to_char(${auditEvents.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '|' || ${auditEvents.id}`,
    })
    .from(auditEvents)
    .where(inTeam(auditEvents, t, ...conditions))
    .orderBy(desc(auditEvents.createdAt), desc(auditEvents.id))
    .limit(pageSize + 1);
  const page = rows.slice(0, pageSize).map(({ cursor: _cursor, ...event }) => event);
  return { events: page, nextCursor: rows.length > pageSize ? rows[pageSize - 1]!.cursor : null };
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The whole log (optionally filtered) as CSV, streamed page by page so memory stays flat. */
export function auditEventsCsv(t: TeamContext, filter: Omit<AuditFilter, "before">): ReadableStream<Uint8Array> {
  assertRole(t, "admin");
  const encoder = new TextEncoder();
  const cell = (v: unknown) => {
    const s =
      v == null ? "" : v instanceof Date ? v.toISOString() : typeof v === "object" ? JSON.stringify(v) : String(v);
    // Quote everything; a leading =, +, -, @, tab or carriage return would run as a formula in a spreadsheet.
    return `"${(/^[=+\-@\t\r]/.test(s) ? `'${s}` : s).replaceAll('"', '""')}"`;
  };
  let before: string | undefined;
  let started = false;
  return new ReadableStream({
    async pull(controller) {
      if (!started) {
        started = true;
        controller.enqueue(encoder.encode("time,actor,action,target_type,target,ip,details\r\n"));
      }
      const page = await listAuditEvents(t, { ...filter, before });
      const lines = page.events.map(
        (e) => [e.at, e.actor, e.action, e.targetType, e.targetLabel, e.ip, e.details].map(cell).join(",") + "\r\n",
      );
      controller.enqueue(encoder.encode(lines.join("")));
      if (!page.nextCursor || page.nextCursor === before) controller.close();
      before = page.nextCursor ?? undefined;
    },
  });
}

import { listAuditLogOp } from "@/lib/api/audit";
import { auditEventsCsv, listAuditEvents } from "@/lib/audit/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

/** The same reads as Settings → Audit log: a JSON page, or the whole (filtered) log as CSV. */
export const GET = apiRoute(listAuditLogOp, async ({ t, query }) => {
  const { action, actor, cursor, format } = query;
  if (format === "csv")
    return new Response(auditEventsCsv(t, { action, actor }), {
      headers: {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": `attachment; filename="${t.slug}-audit-log.csv"`,
        "Cache-Control": "private, no-store",
      },
    });
  const page = await listAuditEvents(t, { action, actor, before: cursor });
  return { data: page.events, nextCursor: page.nextCursor };
});

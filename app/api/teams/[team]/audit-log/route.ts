import { auditEventsCsv, auditFilterSchema } from "@/lib/audit/queries";
import { parseInput } from "@/lib/web/input";
import { teamRoute } from "@/lib/web/route";

export const GET = teamRoute("admin", async (t, request) => {
  const params = Object.fromEntries(new URL(request.url).searchParams);
  const { action, actor } = parseInput(auditFilterSchema, params);
  return new Response(auditEventsCsv(t, { action, actor }), {
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="${t.slug}-audit-log.csv"`,
      "Cache-Control": "private, no-store",
    },
  });
});

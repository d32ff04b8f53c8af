import { teamMetrics } from "@/lib/metrics/render";
import { tokenRoute } from "@/lib/web/route";

export const dynamic = "force-dynamic";

/** One team's Prometheus metrics, read with a team API token that has the metrics:read scope. */
export const GET = tokenRoute("metrics:read", async (t) => {
  const { body, contentType } = await teamMetrics(t);
  return new Response(body, { headers: { "Content-Type": contentType, "Cache-Control": "no-store" } });
});

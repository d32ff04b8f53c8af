import { instanceMetricsAllTeams, checkInstanceToken } from "@/lib/metrics/render";
import { toHttpResponse, withBearerChallenge } from "@/lib/web/http";

export const dynamic = "force-dynamic";

/** Prometheus metrics of every team, for the operators of this Coffer (METRICS_TOKEN). */
export async function GET(request: Request): Promise<Response> {
  try {
    checkInstanceToken(request.headers.get("authorization"));
    const { body, contentType } = await instanceMetricsAllTeams();
    return new Response(body, { headers: { "Content-Type": contentType, "Cache-Control": "no-store" } });
  } catch (err) {
    return withBearerChallenge(toHttpResponse(err));
  }
}

import { readiness } from "@/lib/readiness/readiness";

// Readiness: whether this instance can do its work (lib/readiness/readiness.ts). 503 takes it out of
// a load balancer's rotation until the failing check passes again. No secrets, no team data.
export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export async function GET() {
  const r = await readiness();
  return Response.json(
    { status: r.ready ? "ready" : "unready", checks: r.checks },
    { status: r.ready ? 200 : 503, headers: { "Cache-Control": "no-store" } },
  );
}

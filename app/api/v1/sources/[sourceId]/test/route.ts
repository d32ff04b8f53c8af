import { testSourceOp } from "@/lib/api/servers";
import { testSource } from "@/lib/servers/checks";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const POST = apiRoute(testSourceOp, async ({ t, params }) => testSource(t, params.sourceId));

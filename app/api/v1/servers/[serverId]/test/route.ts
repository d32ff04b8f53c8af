import { testServerOp } from "@/lib/api/servers";
import { testServer } from "@/lib/servers/checks";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const POST = apiRoute(testServerOp, async ({ t, params }) => testServer(t, params.serverId));

import { getServerOp } from "@/lib/api/servers";
import { getServer, listSources } from "@/lib/servers/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(getServerOp, async ({ t, params }) => ({
  ...(await getServer(t, params.serverId)),
  sources: await listSources(t, params.serverId),
}));

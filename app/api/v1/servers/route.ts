import { createServerOp, listServersOp } from "@/lib/api/servers";
import { createServer } from "@/lib/servers/mutations";
import { getServer, listServers, listSources } from "@/lib/servers/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(listServersOp, async ({ t }) => ({ data: await listServers(t) }));

export const POST = apiRoute(createServerOp, async ({ t, body }) => {
  const { id } = await createServer(t, body);
  return { ...(await getServer(t, id)), sources: await listSources(t, id) };
});

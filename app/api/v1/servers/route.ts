import { listServersOp } from "@/lib/api/servers";
import { listServers } from "@/lib/servers/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(listServersOp, async ({ t }) => ({ data: await listServers(t) }));

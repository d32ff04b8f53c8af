import { deleteServerOp, getServerOp, replaceServerOp } from "@/lib/api/servers";
import { deleteServer, updateServer } from "@/lib/servers/mutations";
import { getServer, listSources } from "@/lib/servers/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(getServerOp, async ({ t, params }) => ({
  ...(await getServer(t, params.serverId)),
  sources: await listSources(t, params.serverId),
}));

export const PUT = apiRoute(replaceServerOp, async ({ t, params, body }) => {
  const { id } = await updateServer(t, { ...body, serverId: params.serverId });
  return { ...(await getServer(t, id)), sources: await listSources(t, id) };
});

export const DELETE = apiRoute(deleteServerOp, async ({ t, params }) => {
  await deleteServer(t, params.serverId);
  return { id: params.serverId, deleted: true as const };
});

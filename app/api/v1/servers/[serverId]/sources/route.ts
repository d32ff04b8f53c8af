import { createSourceOp } from "@/lib/api/servers";
import { getSource } from "@/lib/servers/queries";
import { createSource } from "@/lib/servers/source-mutations";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const POST = apiRoute(createSourceOp, async ({ t, params, body }) =>
  getSource(t, (await createSource(t, { ...body, serverId: params.serverId })).id),
);

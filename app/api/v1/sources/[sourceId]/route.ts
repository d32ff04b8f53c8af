import { deleteSourceOp, replaceSourceOp } from "@/lib/api/servers";
import { getSource } from "@/lib/servers/queries";
import { deleteSource, updateSource } from "@/lib/servers/source-mutations";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const PUT = apiRoute(replaceSourceOp, async ({ t, params, body }) =>
  getSource(t, (await updateSource(t, { ...body, sourceId: params.sourceId })).id),
);

export const DELETE = apiRoute(deleteSourceOp, async ({ t, params }) => {
  await deleteSource(t, params.sourceId);
  return { id: params.sourceId, deleted: true as const };
});

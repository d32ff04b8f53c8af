import { deleteDestinationOp, getDestinationOp, replaceDestinationOp } from "@/lib/api/servers";
import { deleteDestination, updateDestination } from "@/lib/destinations/mutations";
import { getDestination } from "@/lib/destinations/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(getDestinationOp, ({ t, params }) => getDestination(t, params.destinationId));

export const PUT = apiRoute(replaceDestinationOp, async ({ t, params, body }) =>
  getDestination(t, (await updateDestination(t, { ...body, destinationId: params.destinationId })).id),
);

export const DELETE = apiRoute(deleteDestinationOp, async ({ t, params }) => {
  await deleteDestination(t, params.destinationId);
  return { id: params.destinationId, deleted: true as const };
});

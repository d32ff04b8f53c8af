import { getDestinationOp } from "@/lib/api/servers";
import { getDestination } from "@/lib/destinations/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(getDestinationOp, ({ t, params }) => getDestination(t, params.destinationId));

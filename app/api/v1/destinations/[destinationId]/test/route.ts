import { testDestinationOp } from "@/lib/api/servers";
import { testDestination } from "@/lib/destinations/use";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const POST = apiRoute(testDestinationOp, async ({ t, params }) => testDestination(t, params.destinationId));

import { listDestinationsOp } from "@/lib/api/servers";
import { listDestinations } from "@/lib/destinations/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(listDestinationsOp, async ({ t }) => ({ data: await listDestinations(t) }));

import { createDestinationOp, listDestinationsOp } from "@/lib/api/servers";
import { createDestination } from "@/lib/destinations/mutations";
import { getDestination, listDestinations } from "@/lib/destinations/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(listDestinationsOp, async ({ t }) => ({ data: await listDestinations(t) }));

export const POST = apiRoute(createDestinationOp, async ({ t, body }) =>
  getDestination(t, (await createDestination(t, body)).id),
);

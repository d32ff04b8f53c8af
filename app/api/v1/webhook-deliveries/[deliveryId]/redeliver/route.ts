import { redeliverOp } from "@/lib/api/webhooks";
import { redeliver } from "@/lib/webhooks/deliveries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const POST = apiRoute(redeliverOp, async ({ t, params }) => ({
  ...(await redeliver(t, params.deliveryId)),
  redeliveryOf: params.deliveryId,
}));

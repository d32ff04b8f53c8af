import { listWebhookDeliveriesOp } from "@/lib/api/webhooks";
import { getChannel, listDeliveries } from "@/lib/webhooks/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

/** The channel's delivery log page; another team's channel is 404, not an empty log. */
export const GET = apiRoute(listWebhookDeliveriesOp, async ({ t, params, query }) => {
  await getChannel(t, params.channelId);
  return { data: await listDeliveries(t, params.channelId, query) };
});

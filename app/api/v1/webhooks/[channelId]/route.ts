import { deleteWebhookOp, getWebhookOp, updateWebhookOp } from "@/lib/api/webhooks";
import { changeChannel, deleteChannel } from "@/lib/webhooks/channels";
import { getChannel } from "@/lib/webhooks/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(getWebhookOp, async ({ t, params }) => getChannel(t, params.channelId));

/** Fields left out keep what is stored; `enabled` is the page's Enable/Disable switch. */
export const PUT = apiRoute(updateWebhookOp, async ({ t, params, body }) => {
  await changeChannel(t, params.channelId, body);
  return getChannel(t, params.channelId);
});

export const DELETE = apiRoute(deleteWebhookOp, async ({ t, params }) => {
  await deleteChannel(t, params.channelId);
  return { id: params.channelId, deleted: true as const };
});

import { deleteWebhookOp, getWebhookOp, updateWebhookOp } from "@/lib/api/webhooks";
import { deleteChannel, setChannelEnabled, updateChannel } from "@/lib/webhooks/channels";
import { getChannel } from "@/lib/webhooks/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(getWebhookOp, async ({ t, params }) => getChannel(t, params.channelId));

/** The channel form's Save, then its Enable/Disable switch when `enabled` says otherwise. */
export const PUT = apiRoute(updateWebhookOp, async ({ t, params, body: { enabled, ...settings } }) => {
  await updateChannel(t, { ...settings, channelId: params.channelId });
  if (enabled !== undefined && enabled !== (await getChannel(t, params.channelId)).enabled)
    await setChannelEnabled(t, params.channelId, enabled);
  return getChannel(t, params.channelId);
});

export const DELETE = apiRoute(deleteWebhookOp, async ({ t, params }) => {
  await deleteChannel(t, params.channelId);
  return { id: params.channelId, deleted: true as const };
});

import { createWebhookOp, listWebhooksOp } from "@/lib/api/webhooks";
import { createChannel } from "@/lib/webhooks/channels";
import { getChannel, listChannels } from "@/lib/webhooks/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(listWebhooksOp, async ({ t }) => ({ data: await listChannels(t) }));

/** The Webhooks page's Add: its lib call; a webhook's signing secret is answered this once. */
export const POST = apiRoute(createWebhookOp, async ({ t, body }) => {
  const { id, secret } = await createChannel(t, body);
  return { ...(await getChannel(t, id)), secret };
});

import { testWebhookOp } from "@/lib/api/webhooks";
import { sendTest } from "@/lib/webhooks/deliveries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const POST = apiRoute(testWebhookOp, async ({ t, params, query }) => sendTest(t, params.channelId, query.type));

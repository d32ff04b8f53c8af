import { rotateWebhookSecretOp } from "@/lib/api/webhooks";
import { rotateSecret } from "@/lib/webhooks/channels";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const POST = apiRoute(rotateWebhookSecretOp, async ({ t, params }) => rotateSecret(t, params.channelId));

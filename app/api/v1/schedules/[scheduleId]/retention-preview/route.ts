import { previewRetentionOp } from "@/lib/api/schedules";
import { previewRetention } from "@/lib/retention/apply";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const POST = apiRoute(previewRetentionOp, async ({ t, params, body }) => {
  const { decisions } = await previewRetention(t, { scheduleId: params.scheduleId }, body.retention);
  return {
    expire: decisions.filter((d) => !d.keep).map((d) => ({ id: d.id, fileName: d.fileName })),
    keep: decisions.filter((d) => d.keep).length,
  };
});

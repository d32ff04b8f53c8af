import { deleteScheduleOp, getScheduleOp, replaceScheduleOp } from "@/lib/api/schedules";
import { deleteSchedule, updateSchedule } from "@/lib/schedules/mutations";
import { getSchedule } from "@/lib/schedules/queries";
import { apiRoute } from "@/lib/web/api-route";
import { dispatch } from "@/lib/workflows/dispatch";

export const dynamic = "force-dynamic";

export const GET = apiRoute(getScheduleOp, async ({ t, params }) => getSchedule(t, params.scheduleId));

/** As the action saves it: a changed policy applies now, not at the next backup. */
export const PUT = apiRoute(replaceScheduleOp, async ({ t, params, body }) => {
  const { id } = await updateSchedule(t, { ...body, scheduleId: params.scheduleId });
  await dispatch.retentionRequested({ teamId: t.id, scope: { scheduleId: id }, reason: `saved-${Date.now()}` });
  return getSchedule(t, id);
});

export const DELETE = apiRoute(deleteScheduleOp, async ({ t, params }) => {
  await deleteSchedule(t, params.scheduleId);
  return { id: params.scheduleId, deleted: true as const };
});

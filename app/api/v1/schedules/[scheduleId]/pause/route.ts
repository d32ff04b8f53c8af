import { pauseScheduleOp } from "@/lib/api/schedules";
import { setScheduleEnabled } from "@/lib/schedules/mutations";
import { getSchedule } from "@/lib/schedules/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const POST = apiRoute(pauseScheduleOp, async ({ t, params }) => {
  await setScheduleEnabled(t, params.scheduleId, false);
  return getSchedule(t, params.scheduleId);
});

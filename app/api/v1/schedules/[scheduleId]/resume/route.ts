import { resumeScheduleOp } from "@/lib/api/schedules";
import { setScheduleEnabled } from "@/lib/schedules/mutations";
import { getSchedule } from "@/lib/schedules/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const POST = apiRoute(resumeScheduleOp, async ({ t, params }) => {
  await setScheduleEnabled(t, params.scheduleId, true);
  return getSchedule(t, params.scheduleId);
});

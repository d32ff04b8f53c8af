import { createScheduleOp, listSchedulesOp } from "@/lib/api/schedules";
import { createSchedule } from "@/lib/schedules/mutations";
import { getSchedule, listSchedules } from "@/lib/schedules/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(listSchedulesOp, async ({ t }) => ({ data: await listSchedules(t) }));

export const POST = apiRoute(createScheduleOp, async ({ t, body }) =>
  getSchedule(t, (await createSchedule(t, body)).id),
);

"use server";
import { teamAction } from "@/lib/server/action";
import { createSchedule, deleteSchedule, setScheduleEnabled, updateSchedule } from "@/lib/schedules/mutations";
import { createScheduleSchema, scheduleRefSchema, setEnabledSchema, updateScheduleSchema } from "@/lib/schedules/schemas";

export const createScheduleAction = teamAction(createScheduleSchema, "member", createSchedule);
export const updateScheduleAction = teamAction(updateScheduleSchema, "member", updateSchedule);
export const setScheduleEnabledAction = teamAction(setEnabledSchema, "member", (t, i) => setScheduleEnabled(t, i.scheduleId, i.enabled));
export const deleteScheduleAction = teamAction(scheduleRefSchema, "member", (t, i) => deleteSchedule(t, i.scheduleId));

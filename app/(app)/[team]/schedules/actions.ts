"use server";
import { teamAction } from "@/lib/web/action";
import { dispatch } from "@/lib/workflows/dispatch";
import { createSchedule, deleteSchedule, setScheduleEnabled, updateSchedule } from "@/lib/schedules/mutations";
import { previewRetention } from "@/lib/retention/apply";
import {
  createScheduleSchema,
  previewRetentionSchema,
  scheduleRefSchema,
  setEnabledSchema,
  updateScheduleSchema,
} from "@/lib/schedules/schemas";

export const createScheduleAction = teamAction(createScheduleSchema, "member", createSchedule);
export const updateScheduleAction = teamAction(updateScheduleSchema, "member", async (t, input) => {
  const saved = await updateSchedule(t, input);
  // A changed policy applies now, not at the next backup.
  await dispatch.retentionRequested({ teamId: t.id, scope: { scheduleId: saved.id }, reason: `saved-${Date.now()}` });
  return saved;
});
export const setScheduleEnabledAction = teamAction(setEnabledSchema, "member", (t, i) =>
  setScheduleEnabled(t, i.scheduleId, i.enabled),
);
export const deleteScheduleAction = teamAction(scheduleRefSchema, "member", (t, i) => deleteSchedule(t, i.scheduleId));
export const previewRetentionAction = teamAction(previewRetentionSchema, "viewer", async (t, i) => {
  const { decisions } = await previewRetention(t, { scheduleId: i.scheduleId }, i.retention, i.timezone);
  return {
    expire: decisions.filter((d) => !d.keep).map((d) => ({ id: d.id, fileName: d.fileName })),
    keep: decisions.filter((d) => d.keep).length,
  };
});

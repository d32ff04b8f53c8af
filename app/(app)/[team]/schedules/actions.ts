"use server";
import { retentionEvent } from "@/inngest/events";
import { sendEvents } from "@/inngest/send";
import { log } from "@/lib/log";
import { teamAction } from "@/lib/web/action";
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
  // A changed policy applies now, not at the next backup (a lost event waits for the daily run).
  await sendEvents([retentionEvent(t.id, { scheduleId: saved.id }, `saved-${Date.now()}`)]).catch((err: unknown) =>
    log.warn("retention dispatch failed", { scheduleId: saved.id, err }),
  );
  return saved;
});
export const setScheduleEnabledAction = teamAction(setEnabledSchema, "member", (t, i) =>
  setScheduleEnabled(t, i.scheduleId, i.enabled),
);
export const deleteScheduleAction = teamAction(scheduleRefSchema, "member", (t, i) => deleteSchedule(t, i.scheduleId));
export const previewRetentionAction = teamAction(previewRetentionSchema, "viewer", async (t, i) => {
  const { decisions } = await previewRetention(t, { scheduleId: i.scheduleId }, i.retention);
  return {
    expire: decisions.filter((d) => !d.keep).map((d) => ({ id: d.id, fileName: d.fileName })),
    keep: decisions.filter((d) => d.keep).length,
  };
});

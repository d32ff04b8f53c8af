import { z } from "zod";
import { encryptionFormats } from "../openpgp/encryption";
import { compressionSettings } from "../backups/compression";
import { retentionSchema } from "../retention/schemas";
import { createScheduleSchema } from "../schedules/schemas";
import { backupSchema } from "./backups";
import { closed } from "./closed";
import { operation } from "./operation";
import { isoTime, pathId } from "./schemas";

const named = z.object({ id: z.string(), name: z.string() });

export const scheduleSchema = z
  .object({
    id: z.string().meta({ example: "sch_01jq8x2m4k9p3r7t5v6w8y0z2a" }),
    name: z.string(),
    serverId: z.string(),
    serverName: z.string(),
    cron: z.string().meta({ description: "When it runs, as a cron expression in `timezone`." }),
    when: z.string().meta({ description: "`cron` in words." }),
    timezone: z.string(),
    enabled: z.boolean().meta({ description: "False while paused." }),
    nextRunAt: isoTime.nullable(),
    upcoming: z.array(isoTime).meta({
      description:
        "The next three runs (none while paused); the first is in the past while a run missed in downtime is due.",
    }),
    encrypted: z.boolean(),
    encryption: z.enum(encryptionFormats).meta({
      description:
        "How an encrypted backup is sealed: `coffer` (the master key) or `openpgp` (one OpenPGP message to the team's keys).",
    }),
    compression: z.enum(compressionSettings),
    verify: z.boolean(),
    verifySourceId: z.string().nullable(),
    staleGraceMinutes: z.number().int().nullable(),
    retention: z.object({
      keepAll: z.boolean(),
      last: z.number().int(),
      daily: z.number().int(),
      weekly: z.number().int(),
      monthly: z.number().int(),
      yearly: z.number().int(),
    }),
    keeps: z.string().meta({ description: "`retention` in words." }),
    sources: z.array(named),
    destinations: z.array(named),
  })
  .meta({ id: "Schedule" });

const scheduleParams = z.strictObject({ scheduleId: pathId("sch", "schedule") });
const scheduleBody = closed(createScheduleSchema).meta({ id: "ScheduleInput" });

export const listSchedulesOp = operation({
  id: "listSchedules",
  method: "get",
  path: "/schedules",
  tag: "Schedules",
  summary: "List the team's schedules",
  scope: "read",
  response: z.object({ data: z.array(scheduleSchema) }),
});

export const getScheduleOp = operation({
  id: "getSchedule",
  method: "get",
  path: "/schedules/{scheduleId}",
  tag: "Schedules",
  summary: "One schedule",
  scope: "read",
  params: scheduleParams,
  response: scheduleSchema,
});

export const createScheduleOp = operation({
  id: "createSchedule",
  method: "post",
  path: "/schedules",
  tag: "Schedules",
  summary: "Create a schedule",
  description: "`when` is a preset (hourly, daily, weekly, monthly) or a cron expression, in `timezone`.",
  scope: "admin",
  role: "member",
  body: scheduleBody,
  response: scheduleSchema,
  status: 201,
  errors: { 409: "Another schedule has this name." },
});

export const replaceScheduleOp = operation({
  id: "replaceSchedule",
  method: "put",
  path: "/schedules/{scheduleId}",
  tag: "Schedules",
  summary: "Replace a schedule's settings",
  description:
    "Send every setting, as when creating (absent ones take their defaults). A changed retention policy " +
    "applies now; keeping fewer backups than before, or any change after which retention would move a " +
    "backup it keeps now to the trash (another time zone), needs an admin's role.",
  scope: "admin",
  role: "member",
  params: scheduleParams,
  body: scheduleBody,
  response: scheduleSchema,
  errors: { 409: "Another schedule has this name." },
});

export const deleteScheduleOp = operation({
  id: "deleteSchedule",
  method: "delete",
  path: "/schedules/{scheduleId}",
  tag: "Schedules",
  summary: "Delete a schedule (its backups are kept)",
  scope: "admin",
  role: "member",
  params: scheduleParams,
  response: z.object({ id: z.string(), deleted: z.literal(true) }),
});

export const pauseScheduleOp = operation({
  id: "pauseSchedule",
  method: "post",
  path: "/schedules/{scheduleId}/pause",
  tag: "Schedules",
  summary: "Pause a schedule: it runs no more until resumed",
  scope: "admin",
  role: "member",
  params: scheduleParams,
  response: scheduleSchema,
});

export const resumeScheduleOp = operation({
  id: "resumeSchedule",
  method: "post",
  path: "/schedules/{scheduleId}/resume",
  tag: "Schedules",
  summary: "Resume a paused schedule",
  scope: "admin",
  role: "member",
  params: scheduleParams,
  response: scheduleSchema,
});

export const runScheduleOp = operation({
  id: "runSchedule",
  method: "post",
  path: "/schedules/{scheduleId}/run",
  tag: "Schedules",
  summary: "Back up now with the schedule's settings",
  description:
    "Queues a backup of the schedule's sources to its destinations, encrypted, compressed and verified as it says " +
    "(the schedule's Back up now in the app).",
  scope: "backups:write",
  role: "member",
  params: scheduleParams,
  response: backupSchema,
  status: 201,
  errors: {
    413: "The team's backups on this host's disk are at its quota (a local-disk destination is among them).",
  },
});

export const previewRetentionOp = operation({
  id: "previewScheduleRetention",
  method: "post",
  path: "/schedules/{scheduleId}/retention-preview",
  tag: "Schedules",
  summary: "Which of the schedule's backups a retention policy would keep and expire now",
  description: "A dry run: changes nothing. Without `retention`, the schedule's own policy.",
  scope: "read",
  params: scheduleParams,
  body: closed(z.object({ retention: retentionSchema.optional() })),
  response: z.object({
    expire: z.array(z.object({ id: z.string(), fileName: z.string() })),
    keep: z.number().int().meta({ description: "How many backups it keeps." }),
  }),
});

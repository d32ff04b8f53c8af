import { z } from "zod";
import { wholeNumber } from "../whole-number";
import { compressionSettings } from "../backups/compression";
import { idOf } from "../ids";
import { encryptionSchema } from "../openpgp/encryption";
import { retentionSchema } from "../retention/schemas";
import { DEFAULT_POLICY } from "../retention/select";
import { nameSchema } from "../servers/schemas";

const time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "Use a time such as 02:30.");

/** A whole number from `min` to `max`; anything else (blank, out of range) gets `message`. */
const inRange = (min: number, max: number, message: string) =>
  wholeNumber(z.number(message).int(message).min(min, message).max(max, message));

export const presetSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("hourly"), minute: inRange(0, 59, "Use a minute from 0 to 59.") }),
  z.object({ kind: z.literal("daily"), time }),
  z.object({ kind: z.literal("weekly"), weekday: inRange(0, 6, "Choose a weekday."), time }),
  z.object({
    kind: z.literal("monthly"),
    day: inRange(1, 28, "Use a day from 1 to 28, so every month has it."),
    time,
  }),
  z.object({
    kind: z.literal("cron"),
    cron: z.string().trim().min(1, "Enter a cron expression such as 0 2 * * *.").max(120),
  }), // lib/schedules/cron.ts judges the rest
]);

const fields = {
  name: nameSchema,
  serverId: idOf("srv", "server"),
  sourceIds: z.array(idOf("src", "source")).min(1, "Choose at least one source to back up.").max(50),
  destinationIds: z.array(idOf("dst", "destination")).min(1, "Choose at least one destination.").max(20),
  when: presetSchema,
  timezone: z.string().trim().min(1, "Choose a time zone.").max(64),
  encrypted: z.boolean().default(true),
  /** The format of its encrypted backups; absent: Coffer's. */
  encryption: encryptionSchema,
  enabled: z.boolean().default(true),
  retention: retentionSchema.default(DEFAULT_POLICY),
  /** How hard each backup is compressed (lib/backups/compression.ts); absent: fast. */
  compression: z.enum(compressionSettings, "Choose fast, balanced or small.").optional(),
  /** Verify each backup by a restore into a scratch database. */
  verify: z.boolean().default(true),
  /** A PostgreSQL source (on any server) whose connection verification uses; absent: each database's own. */
  verifySourceId: z.preprocess((v) => (v === "" ? undefined : v), idOf("src", "verification connection").optional()),
  /** Hours past its interval before the schedule counts as stale; absent: one more interval (lib/health/interval.ts). */
  staleGraceHours: z.preprocess(
    (v) => (v === "" || v === null ? undefined : v),
    z.coerce
      .number("Use a number of hours.")
      .min(0, "Use 0 hours or more.")
      .max(2160, "Use at most 2160 hours (90 days).")
      .optional(),
  ),
};

export const createScheduleSchema = z.object(fields);
export type CreateScheduleInput = z.infer<typeof createScheduleSchema>;
export const scheduleRefSchema = z.object({ scheduleId: idOf("sch", "schedule") });
export const updateScheduleSchema = z.object({ ...fields, scheduleId: idOf("sch", "schedule") });
export type UpdateScheduleInput = z.infer<typeof updateScheduleSchema>;
export const setEnabledSchema = scheduleRefSchema.extend({ enabled: z.boolean() });
/** A dry run of a retention policy on a schedule's existing backups. */
/** `timezone`: the one in the form, which may not be saved yet (days are counted in it). */
export const previewRetentionSchema = scheduleRefSchema.extend({
  retention: retentionSchema,
  timezone: fields.timezone.optional(),
});

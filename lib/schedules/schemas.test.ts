import { describe, expect, it } from "vitest";
import { requestBackupSchema } from "../backups/schemas";
import { createScheduleSchema, updateScheduleSchema } from "./schemas";

const schedule = {
  name: "nightly",
  serverId: "srv_00000000000000000000000000",
  sourceIds: ["src_00000000000000000000000000"],
  destinationIds: ["dst_00000000000000000000000000"],
  when: { kind: "daily", time: "02:00" },
  timezone: "UTC",
};
const backup = { serverId: schedule.serverId, destinationIds: schedule.destinationIds };

describe("compression in the schedule and Back up now schemas", () => {
  it("accepts each setting, and leaves it absent (fast) when not given", () => {
    for (const compression of ["fast", "balanced", "small"]) {
      expect(createScheduleSchema.parse({ ...schedule, compression }).compression).toBe(compression);
      expect(requestBackupSchema.parse({ ...backup, compression }).compression).toBe(compression);
    }
    expect(createScheduleSchema.parse(schedule).compression).toBeUndefined();
    expect(requestBackupSchema.parse(backup).compression).toBeUndefined();
  });

  it("refuses another value, saying which ones it takes", () => {
    const input = { ...schedule, scheduleId: "sch_00000000000000000000000000", compression: "xz" };
    const parsed = updateScheduleSchema.safeParse(input);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues).toMatchObject([{ path: ["compression"], message: "Choose fast, balanced or small." }]);
    const request = requestBackupSchema.safeParse({ ...backup, compression: 9 });
    expect(request.error!.issues).toMatchObject([
      { path: ["compression"], message: "Choose fast, balanced or small." },
    ]);
  });
});

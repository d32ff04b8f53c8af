import { describe, expect, it } from "vitest";
import { scheduleIntervalMs, staleAfterMs } from "./interval";

const hour = 3600_000;
const day = 24 * hour;
const now = new Date("2026-03-04T12:00:00Z"); // a Wednesday, away from daylight-saving changes

describe("stale thresholds", () => {
  it("a daily schedule is stale after two days (the runbook's rule), an hourly one after two hours", () => {
    expect(staleAfterMs({ cron: "0 2 * * *", timezone: "UTC", staleGraceMinutes: null }, now)).toBe(2 * day);
    expect(staleAfterMs({ cron: "5 * * * *", timezone: "Europe/Berlin", staleGraceMinutes: null }, now)).toBe(2 * hour);
  });

  it("a weekday schedule's interval is the weekend's gap, whichever day it is asked", () => {
    expect(scheduleIntervalMs("0 3 * * 1-5", "UTC", now)).toBe(3 * day);
    const saturday = new Date("2026-03-07T12:00:00Z");
    for (const at of [now, saturday]) {
      // Hourly on weekdays: Friday 23:00 to Monday 00:00, not the hour between two weekday slots.
      expect(scheduleIntervalMs("0 * * * 1-5", "UTC", at)).toBe(49 * hour);
      expect(scheduleIntervalMs("0 8,12,16 * * 1-5", "UTC", at)).toBe(64 * hour);
    }
  });

  it("a daily schedule is stale after two days in a time zone with daylight saving, away from the change", () => {
    const june = new Date("2026-06-10T12:00:00Z");
    expect(staleAfterMs({ cron: "0 2 * * *", timezone: "Europe/Berlin", staleGraceMinutes: null }, june)).toBe(2 * day);
    expect(scheduleIntervalMs("0 3 * * 0", "America/New_York", june)).toBe(7 * day); // weekly
  });

  it("a monthly schedule's interval is its longest month", () => {
    expect(scheduleIntervalMs("0 2 1 * *", "UTC", now)).toBe(31 * day);
  });

  it("an explicit grace period replaces the default one", () => {
    expect(staleAfterMs({ cron: "0 2 * * *", timezone: "UTC", staleGraceMinutes: 6 * 60 }, now)).toBe(day + 6 * hour);
  });
});

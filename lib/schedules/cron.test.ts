import { describe, expect, it } from "vitest";
import { assertTimeZone, cronToPreset, describeCron, nextRuns, presetToCron, zoneChoices, type Preset } from "./cron";

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

describe("schedule timing", () => {
  it("turns presets into cron and back", () => {
    const presets: Preset[] = [
      { kind: "hourly", minute: 15 },
      { kind: "daily", time: "02:30" },
      { kind: "weekly", weekday: 0, time: "23:05" },
      { kind: "monthly", day: 28, time: "00:00" },
      { kind: "cron", cron: "*/10 1-5 * * 1-5" },
    ];
    expect(presets.map(presetToCron)).toEqual([
      "15 * * * *",
      "30 2 * * *",
      "5 23 * * 0",
      "0 0 28 * *",
      "*/10 1-5 * * 1-5",
    ]);
    expect(presets.map(presetToCron).map(cronToPreset)).toEqual(presets);
    expect(presets.map(presetToCron).map(describeCron)).toEqual([
      "Hourly at minute 15",
      "Daily at 02:30",
      "Weekly on Sunday at 23:05",
      "Monthly on day 28 at 00:00",
      "Cron */10 1-5 * * 1-5",
    ]);
  });

  it("runs at the wall-clock time of the schedule's zone across DST changes, east and west of UTC", () => {
    // Berlin springs forward on 2026-03-29 (UTC+1 → UTC+2).
    expect(iso(nextRuns("0 2 * * *", "Europe/Berlin", 3, new Date("2026-03-27T12:00:00Z")))).toEqual([
      "2026-03-28T01:00:00.000Z",
      "2026-03-29T01:00:00.000Z",
      "2026-03-30T00:00:00.000Z",
    ]);
    // New York falls back on 2026-11-01 (UTC-4 → UTC-5).
    expect(iso(nextRuns("30 1 * * *", "America/New_York", 3, new Date("2026-10-30T12:00:00Z")))).toEqual([
      "2026-10-31T05:30:00.000Z",
      "2026-11-01T05:30:00.000Z",
      "2026-11-02T06:30:00.000Z",
    ]);
    // A list of hours is as many wall-clock times: once each on both change days, none skipped or doubled.
    expect(iso(nextRuns("30 2,14 * * *", "Europe/Berlin", 2, new Date("2026-03-28T23:00:00Z")))).toEqual([
      "2026-03-29T01:00:00.000Z",
      "2026-03-29T12:30:00.000Z",
    ]);
    expect(iso(nextRuns("30 2,14 * * *", "Europe/Berlin", 2, new Date("2026-10-24T22:00:00Z")))).toEqual([
      "2026-10-25T00:30:00.000Z",
      "2026-10-25T13:30:00.000Z",
    ]);
    expect(iso(nextRuns("0 0 * * *", "Asia/Kolkata", 1, new Date("2026-01-01T00:00:00Z")))).toEqual([
      "2026-01-01T18:30:00.000Z",
    ]);
  });

  it("offers a zone the list names otherwise, so a form keeps it instead of falling back to UTC", () => {
    const listed = ["UTC", "Asia/Calcutta", "Europe/Berlin"];
    expect(zoneChoices(listed, "Europe/Berlin")).toBe(listed);
    expect(zoneChoices(listed, "Asia/Kolkata")).toEqual(["Asia/Kolkata", ...listed]);
    expect(() => assertTimeZone("Asia/Kolkata")).not.toThrow(); // and saving it is accepted
  });

  it("refuses what it cannot run, saying how to write it", () => {
    expect(() => nextRuns("0 2 * *", "UTC", 1)).toThrow("use five fields, minute hour day-of-month month day-of-week");
    expect(() => nextRuns("61 2 * * *", "UTC", 1)).toThrow("is not a cron expression Coffer understands");
    expect(() => nextRuns("0 2 * * *", "Mars/Olympus", 1)).toThrow('Unknown time zone "Mars/Olympus"');
  });
});

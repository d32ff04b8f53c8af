import { describe, expect, it } from "vitest";
import { formatAge, formatBytes, formatCount, formatDateTime, formatDuration } from "./format";

describe("format", () => {
  it("sizes", () => {
    expect(formatBytes(0)).toBe("0 bytes");
    expect(formatBytes(1)).toBe("1 byte");
    expect(formatBytes(1023)).toBe("1,023 bytes");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(300 * 1024)).toBe("300.0 KiB"); // a small database: not "0.0 GiB"
    expect(formatBytes(1024 * 1024 - 10)).toBe("1.0 MiB");
    expect(formatBytes(2 ** 60)).toBe("1024.0 PiB");
  });
  it("counts, in the right number (no '(s)')", () => {
    expect(formatCount(1, "table")).toBe("1 table");
    expect(formatCount(2, "table")).toBe("2 tables");
    expect(formatCount(0, "file")).toBe("0 files");
    expect(formatCount(20000, "row")).toBe("20,000 rows");
    expect(formatCount(3, "difference")).toBe("3 differences");
    expect(formatCount(1, "entry", "entries")).toBe("1 entry");
    expect(formatCount(2, "entry", "entries")).toBe("2 entries");
  });
  it("dates and times, in a given zone, with the zone's name", () => {
    const at = new Date("2026-12-06T14:05:09Z");
    expect(formatDateTime(at, "UTC")).toBe("6 Dec 2026, 14:05 UTC");
    expect(formatDateTime(at, "UTC", "seconds")).toBe("6 Dec 2026, 14:05:09 UTC");
    expect(formatDateTime(at, "UTC", "time")).toBe("14:05:09 UTC");
    expect(formatDateTime(at, "Asia/Tokyo")).toBe("6 Dec 2026, 23:05 GMT+9");
  });
  it("durations", () => {
    expect(formatDuration(400)).toBe("0.4 s");
    expect(formatDuration(12_300)).toBe("12 s");
    expect(formatDuration(185_000)).toBe("3 min 05 s");
    expect(formatDuration(7_440_000)).toBe("2 h 04 min");
  });
  it("ages", () => {
    expect(formatAge(59_000)).toBe("0 min");
    expect(formatAge(3 * 3600_000 + 5)).toBe("3 h");
    expect(formatAge(47 * 3600_000)).toBe("47 h");
    expect(formatAge(5 * 86_400_000)).toBe("5 days");
  });
});

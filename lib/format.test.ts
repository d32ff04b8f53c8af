import { describe, expect, it } from "vitest";
import { formatAge, formatBytes, formatDuration } from "./format";

describe("format", () => {
  it("sizes", () => {
    expect(formatBytes(0)).toBe("0 bytes");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(2 ** 60)).toBe("1024.0 PiB");
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

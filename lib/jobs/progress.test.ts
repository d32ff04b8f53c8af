import { describe, expect, it } from "vitest";
import { estimateOf, progressOf } from "./progress";

const MB = 1_000_000;

describe("progress", () => {
  it("elapsed time and average rate of a running job", () => {
    const startedAt = new Date("2026-01-01T00:00:00Z");
    expect(
      progressOf(
        { status: "running", startedAt, finishedAt: null, bytesDone: 50 * MB },
        new Date("2026-01-01T00:00:10Z"),
      ),
    ).toEqual({ elapsedMs: 10_000, bytesPerSecond: 5 * MB });
  });

  it("estimates the time left from the previous run's size, at this run's rate once it has settled", () => {
    // The previous run wrote 600 MB in 60 s; this one has written 200 MB in 40 s (5 MB/s): 400 MB left → 80 s.
    expect(
      estimateOf(
        { bytesDone: 200 * MB, bytesPerSecond: 5 * MB, elapsedMs: 40_000 },
        { bytes: 600 * MB, durationMs: 60_000 },
      ),
    ).toEqual({ expectedBytes: 600 * MB, fraction: 1 / 3, msLeft: 80_000 });
  });

  it("uses the previous run's rate in the first seconds", () => {
    // 3 s in at a rate that says little yet: 570 MB left at the previous 10 MB/s → 57 s.
    expect(
      estimateOf(
        { bytesDone: 30 * MB, bytesPerSecond: 1 * MB, elapsedMs: 3_000 },
        { bytes: 600 * MB, durationMs: 60_000 },
      ),
    ).toEqual({ expectedBytes: 600 * MB, fraction: 0.05, msLeft: 57_000 });
  });

  it("says nothing is left once the run has outgrown the previous one, and nothing without a previous run", () => {
    expect(
      estimateOf(
        { bytesDone: 700 * MB, bytesPerSecond: 5 * MB, elapsedMs: 140_000 },
        { bytes: 600 * MB, durationMs: 60_000 },
      ),
    ).toEqual({ expectedBytes: 600 * MB, fraction: 1, msLeft: 0 });
    expect(estimateOf({ bytesDone: 1, bytesPerSecond: 1, elapsedMs: 1 }, null)).toBeNull();
    expect(estimateOf({ bytesDone: 1, bytesPerSecond: 1, elapsedMs: 1 }, { bytes: 0, durationMs: 1000 })).toBeNull();
  });
});

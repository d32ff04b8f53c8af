import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limit";

describe("RateLimiter", () => {
  it("allows the burst, then says how many seconds until the next request, per key", () => {
    let now = 0;
    const limiter = new RateLimiter(60, () => now);
    for (let i = 0; i < 60; i++) expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBe(1);
    expect(limiter.take("b")).toBe(0);
    now += 1000;
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBe(1);
    now += 60_000;
    for (let i = 0; i < 60; i++) expect(limiter.take("a")).toBe(0);
  });
});

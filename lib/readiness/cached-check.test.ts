import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CachedCheck, type CheckStatus } from "./cached-check";

const options = { okTtlMs: 1_000, failTtlMs: 200, stallMs: 2_000 };

/** A check whose runs the test finishes by hand. */
function controlled() {
  const pending: ((r: CheckStatus) => void)[] = [];
  const run = vi.fn(() => new Promise<CheckStatus>((resolve) => pending.push(resolve)));
  return { run, finish: (r: CheckStatus) => pending.shift()!(r) };
}

/** get() under fake timers: lets the budget elapse while the promise settles. */
async function get(check: CachedCheck, budgetMs = 50) {
  const p = check.get(budgetMs);
  await vi.advanceTimersByTimeAsync(budgetMs);
  return p;
}

describe("CachedCheck", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it("reuses a passing result for okTtlMs and a failing one for failTtlMs", async () => {
    let ok = true;
    const run = vi.fn(async () => (ok ? { ok: true } : { ok: false, message: "down" }));
    const check = new CachedCheck(run, options);
    expect(await get(check)).toEqual({ ok: true });
    await vi.advanceTimersByTimeAsync(500);
    expect(await get(check)).toEqual({ ok: true });
    expect(run).toHaveBeenCalledTimes(1);

    ok = false;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await get(check)).toEqual({ ok: false, message: "down" });
    expect(run).toHaveBeenCalledTimes(2);
    ok = true;
    await vi.advanceTimersByTimeAsync(200);
    expect(await get(check)).toEqual({ ok: true });
    expect(run).toHaveBeenCalledTimes(3);
  });

  it("answers within the budget while a run is slow: the last result, then a failure once it hangs", async () => {
    const { run, finish } = controlled();
    const check = new CachedCheck(run, options);
    expect(await get(check)).toEqual({ ok: false, message: "being checked" });
    finish({ ok: true });
    expect(await get(check)).toEqual({ ok: true });

    await vi.advanceTimersByTimeAsync(1_000); // stale: a new run starts and does not finish
    expect(await get(check)).toEqual({ ok: true });
    expect(await get(check)).toEqual({ ok: true });
    expect(run).toHaveBeenCalledTimes(2); // one run at a time
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await get(check)).toEqual({ ok: false, message: "no answer for 2.1 s" });

    finish({ ok: true });
    expect(await get(check)).toEqual({ ok: true });
  });

  it("turns a run that throws into a failure that keeps the error for the log", async () => {
    const error = new Error("connect ECONNREFUSED 127.0.0.1:5432");
    const check = new CachedCheck(() => Promise.reject(error), options);
    expect(await get(check)).toEqual({ ok: false, message: "the check failed", cause: error });
  });
});

/**
 * A readiness check that answers within a time budget. Its last result is reused for a while
 * (longer when it passed), at most one run is under way at a time, and a run that takes longer
 * than the budget is not waited for: the caller gets the last result, or a failure once the run
 * has hung for `stallMs` (a database that stopped answering, not only one that refuses).
 */
export interface CheckStatus {
  ok: boolean;
  /** What is wrong, for operators: never a secret, a key, a host name or team data. */
  message?: string;
  /** The error behind a failure, for the log only (redacted there); never part of a response. */
  cause?: unknown;
}

export interface CachedCheckOptions {
  /** How long a passing result is reused. */
  okTtlMs: number;
  /** How long a failing result is reused (short, so recovery shows quickly). */
  failTtlMs: number;
  /** A run still under way after this long counts as a failure. */
  stallMs: number;
}

export class CachedCheck {
  private last?: { result: CheckStatus; at: number };
  private running?: { promise: Promise<CheckStatus>; since: number };

  constructor(
    private readonly run: () => Promise<CheckStatus>,
    private readonly options: CachedCheckOptions,
  ) {}

  async get(budgetMs: number): Promise<CheckStatus> {
    const now = Date.now();
    if (this.last) {
      const ttl = this.last.result.ok ? this.options.okTtlMs : this.options.failTtlMs;
      if (now - this.last.at < ttl) return this.last.result;
    }
    this.running ??= { promise: this.start(), since: now };
    const { promise, since } = this.running;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = await Promise.race([
      promise,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), budgetMs))),
    ]);
    clearTimeout(timer);
    if (result) return result;
    const waited = Date.now() - since;
    if (waited >= this.options.stallMs) return { ok: false, message: `no answer for ${(waited / 1000).toFixed(1)} s` };
    return this.last?.result ?? { ok: false, message: "being checked" };
  }

  private async start(): Promise<CheckStatus> {
    let result: CheckStatus;
    try {
      result = await this.run();
    } catch (cause) {
      result = { ok: false, message: "the check failed", cause };
    }
    this.last = { result, at: Date.now() };
    this.running = undefined;
    return result;
  }
}

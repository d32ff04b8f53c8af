import { InngestTestEngine } from "@inngest/test";
import { Cron } from "croner";
import { randomUUID } from "node:crypto";
import type { InngestFunction } from "inngest";
import { log } from "@/lib/log";

/**
 * Runs the workflow functions inside this process when no Inngest server is configured (the
 * embedded default). Each run goes through the SDK's own execution engine (`@inngest/test`'s
 * InngestTestEngine runs a function with its real steps); this class adds what that engine leaves
 * to a server, reading each function's own configuration:
 * - triggers: events by name, and cron triggers on an in-process timer;
 * - event ids and the function's idempotency key (`event.data.<field>`), deduplicated for 24 h;
 * - concurrency limits, with or without a key (`event.data.<field>`);
 * - retries (the function's `retries`, default 4) with exponential back-off: completed steps are
 *   memoized across attempts, so a retry resumes at the failed step as on a server;
 *   NonRetriableError skips them;
 * - the function's `onFailure` handler once the run has failed for good.
 * State lives in memory: runs a crash interrupts are found by the sweep-runs function.
 */

type AnyFunction = InngestFunction.Any;
interface Event {
  id?: string;
  name: string;
  data: Record<string, unknown>;
}
interface Job {
  fn: AnyFunction;
  event: Event & { id: string; ts: number };
  keys: string[];
  limits: number[];
}
interface SerializedError {
  name?: string;
  message?: string;
}

const DEDUPE_MS = 24 * 60 * 60 * 1000;

interface FunctionOptions {
  id: string;
  triggers?: { event?: string | { name: string }; cron?: string }[];
  retries?: number;
  idempotency?: string;
  concurrency?: number | { key?: string; limit: number } | { key?: string; limit: number }[];
  onFailure?: unknown;
}
const optionsOf = (fn: AnyFunction) => (fn as unknown as { opts: FunctionOptions }).opts;

/** Reads `event.data.<field>` (the only key expressions Coffer's functions use). */
function keyValue(expression: string, event: Event): string {
  const m = /^event\.data\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expression.trim());
  if (!m) throw new Error(`In-process workflows support keys of the form event.data.<field>, not "${expression}".`);
  return String(event.data[m[1]!]);
}

export interface EngineOptions {
  /** Delay before retry `attempt` (1-based). Default: 2 s × 2^(attempt−1), at most 5 minutes. */
  retryDelayMs?: (attempt: number) => number;
}

export class InProcessEngine {
  private readonly queue: Job[] = [];
  private readonly active = new Map<string, number>();
  private readonly seen = new Map<string, number>();
  private readonly crons: Cron[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private running = 0;

  constructor(
    private readonly functions: AnyFunction[],
    private readonly options: EngineOptions = {},
  ) {
    for (const fn of functions) {
      const c = optionsOf(fn).concurrency;
      for (const item of typeof c === "number" || c === undefined ? [] : Array.isArray(c) ? c : [c])
        if (item.key) keyValue(item.key, { name: "", data: {} });
    }
  }

  /** Queues a run of every function the events trigger. Events with an id seen in the last 24 h are ignored. */
  send(events: Event[]): void {
    const now = Date.now();
    for (const [k, until] of this.seen) if (until < now) this.seen.delete(k);
    for (const e of events) {
      const event = { ...e, id: e.id ?? randomUUID(), ts: now };
      if (e.id) {
        if (this.seen.has(`event:${e.id}`)) continue;
        this.seen.set(`event:${e.id}`, now + DEDUPE_MS);
      }
      for (const fn of this.functions) {
        if (
          !(optionsOf(fn).triggers ?? []).some(
            (t) => t.event && (typeof t.event === "string" ? t.event : t.event.name) === e.name,
          )
        )
          continue;
        this.enqueue(fn, event);
      }
    }
    this.pump();
  }

  /** Starts the cron triggers (once, however often it is called); `stop` ends them. */
  startCrons(): void {
    if (this.crons.length) return;
    for (const fn of this.functions) {
      for (const t of optionsOf(fn).triggers ?? []) {
        if (!t.cron) continue;
        const cron = t.cron;
        this.crons.push(new Cron(cron, { timezone: "UTC", protect: true }, () => this.runCron(fn, cron)));
      }
    }
  }

  /** Queues one run of a cron function now (what its timer does), for start-up and tests. */
  runCron(fn: AnyFunction, cron = "manual"): void {
    this.enqueue(fn, { id: randomUUID(), name: "inngest/scheduled.timer", data: { cron }, ts: Date.now() });
    this.pump();
  }

  stop(): void {
    for (const c of this.crons.splice(0)) c.stop();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private enqueue(fn: AnyFunction, event: Job["event"]) {
    const o = optionsOf(fn);
    if (o.idempotency) {
      const key = `idem:${o.id}:${keyValue(o.idempotency, event)}`;
      if (this.seen.has(key)) return;
      this.seen.set(key, Date.now() + DEDUPE_MS);
    }
    const c = o.concurrency;
    const items = c === undefined ? [] : typeof c === "number" ? [{ limit: c }] : Array.isArray(c) ? c : [c];
    const keys = items.map((i) => `${o.id}:${i.key ? `${i.key}=${keyValue(i.key, event)}` : "*"}`);
    this.queue.push({ fn, event, keys, limits: items.map((i) => i.limit) });
  }

  private pump() {
    for (let i = 0; i < this.queue.length;) {
      const job = this.queue[i]!;
      if (job.keys.some((k, j) => (this.active.get(k) ?? 0) >= job.limits[j]!)) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      for (const k of job.keys) this.active.set(k, (this.active.get(k) ?? 0) + 1);
      this.running++;
      void this.execute(job).finally(() => {
        for (const k of job.keys) this.active.set(k, this.active.get(k)! - 1);
        this.running--;
        this.pump();
        if (this.running === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  private async execute(job: Job) {
    const o = optionsOf(job.fn);
    const maxAttempts = (o.retries ?? 4) + 1;
    const engine = new InngestTestEngine({ function: job.fn, events: [job.event], transformCtx: (ctx) => ctx });
    let steps: InngestTestEngine.MockedStep[] = [];
    let error: SerializedError | undefined;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const out = await engine.execute({ steps });
      error = (out as { error?: SerializedError }).error;
      if (!error) return;
      // Keep the steps that completed: the next attempt resumes at the one that failed.
      steps = Object.entries(out.state).map(([id, value]) => ({ id, idIsHashed: true, handler: () => value }));
      if (error.name === "NonRetriableError" || attempt === maxAttempts) break;
      log.warn("workflow attempt failed; retrying", { function: o.id, attempt, error: error.message });
      await new Promise((r) =>
        setTimeout(r, this.options.retryDelayMs?.(attempt) ?? Math.min(2_000 * 2 ** (attempt - 1), 300_000)),
      );
    }
    log.warn("workflow failed", { function: o.id, error: error?.message });
    if (o.onFailure) await this.runFailureHandler(job, error ?? {});
  }

  /** The function's own onFailure handler, run by the SDK engine as a server would run it. */
  private async runFailureHandler(job: Job, error: SerializedError) {
    const fn = job.fn;
    const asFailure = new Proxy(fn, {
      get(target, prop, receiver) {
        if (prop !== "createExecution") return Reflect.get(target, prop, receiver);
        return (opts: { partialOptions: Record<string, unknown> }) =>
          (target as unknown as { createExecution: (o: unknown) => unknown }).createExecution({
            ...opts,
            partialOptions: { ...opts.partialOptions, handlerKind: "failure" },
          });
      },
    });
    const event = {
      name: "inngest/function.failed",
      data: {
        function_id: fn.id("coffer"),
        run_id: job.event.id,
        error: { name: error.name ?? "Error", message: error.message ?? "The workflow failed." },
        event: job.event,
      },
    };
    const out = await new InngestTestEngine({
      function: asFailure,
      events: [event],
      transformCtx: (ctx) => ctx,
    }).execute();
    const failed = (out as { error?: SerializedError }).error;
    if (failed) log.error("workflow failure handler failed", { function: optionsOf(fn).id, error: failed.message });
  }
}

const KEY = Symbol.for("coffer.in-process-engine");
type Holder = { [KEY]?: InProcessEngine };

/**
 * The process-wide engine. Next.js may load this module more than once (instrumentation and each
 * route bundle), so the instance lives on globalThis and the functions are imported lazily.
 * `options` apply when this call creates it.
 */
export async function inProcessEngine(options?: EngineOptions): Promise<InProcessEngine> {
  const holder = globalThis as Holder;
  if (!holder[KEY]) {
    const { functions } = await import("./functions");
    holder[KEY] ??= new InProcessEngine(functions as AnyFunction[], options);
  }
  return holder[KEY];
}

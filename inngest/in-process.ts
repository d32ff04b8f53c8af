import { Cron } from "croner";
import { randomUUID } from "node:crypto";
import { log } from "@/lib/log";
import { registerDispatcher } from "@/lib/workflows/dispatch";
import { dispatcherFor } from "./dispatcher";
import {
  configOf,
  functionRun,
  type AnyFunction,
  type FunctionConfig,
  type OutgoingEvent,
  type TriggeringEvent,
} from "./sdk-adapter";

/**
 * Runs the workflows inside this process when no Inngest server is configured. Each run goes
 * through the SDK's own execution (./sdk-adapter); this adds what a server would, from each
 * function's configuration: event and cron triggers, event-id and idempotency-key deduplication
 * (24 h), concurrency limits, retries with back-off (resuming at the failed step) and onFailure.
 * State lives in memory: the sweep-runs function finds runs a crash interrupted.
 */

interface Job {
  fn: AnyFunction;
  config: FunctionConfig;
  event: TriggeringEvent;
  keys: string[];
  limits: number[];
}

const DEDUPE_MS = 24 * 60 * 60 * 1000;

/** Reads `event.data.<field>` (the only key expressions Coffer's functions use). */
function keyValue(expression: string, event: Pick<TriggeringEvent, "data">): string {
  const m = /^event\.data\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expression.trim());
  if (!m) throw new Error(`In-process workflows support keys of the form event.data.<field>, not "${expression}".`);
  return String(event.data[m[1]!]);
}

export interface EngineOptions {
  /** Delay before retry `attempt` (1-based). Default: 2 s × 2^(attempt−1), at most 5 minutes. */
  retryDelayMs?: (attempt: number) => number;
}

export class InProcessEngine {
  private readonly functions: { fn: AnyFunction; config: FunctionConfig }[];
  private readonly queue: Job[] = [];
  private readonly active = new Map<string, number>();
  private readonly seen = new Map<string, number>();
  private readonly crons: Cron[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private running = 0;

  constructor(
    functions: AnyFunction[],
    private readonly options: EngineOptions = {},
  ) {
    this.functions = functions.map((fn) => ({ fn, config: configOf(fn) }));
    for (const { config } of this.functions)
      for (const c of config.concurrency) if (c.key) keyValue(c.key, { data: {} });
  }

  /** Queues a run of every function the events trigger; returns the events' ids. An id seen in the last 24 h is ignored. */
  send(events: OutgoingEvent[]): string[] {
    const now = Date.now();
    for (const [k, until] of this.seen) if (until < now) this.seen.delete(k);
    const ids = events.map((e) => {
      const event = { id: e.id ?? randomUUID(), name: e.name, data: e.data ?? {}, ts: now };
      if (e.id) {
        if (this.seen.has(`event:${e.id}`)) return event.id;
        this.seen.set(`event:${e.id}`, now + DEDUPE_MS);
      }
      for (const f of this.functions) if (f.config.events.includes(e.name)) this.enqueue(f.fn, event);
      return event.id;
    });
    this.pump();
    return ids;
  }

  /** Starts the cron triggers (once, however often it is called); `stop` ends them. */
  startCrons(): void {
    if (this.crons.length) return;
    for (const { fn, config } of this.functions)
      for (const cron of config.crons)
        this.crons.push(new Cron(cron, { timezone: "UTC", protect: true }, () => this.runCron(fn, cron)));
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

  private enqueue(fn: AnyFunction, event: TriggeringEvent) {
    const config = configOf(fn);
    if (config.idempotency) {
      const key = `idem:${config.id}:${keyValue(config.idempotency, event)}`;
      if (this.seen.has(key)) return;
      this.seen.set(key, Date.now() + DEDUPE_MS);
    }
    const keys = config.concurrency.map((c) => `${config.id}:${c.key ? `${c.key}=${keyValue(c.key, event)}` : "*"}`);
    this.queue.push({ fn, config, event, keys, limits: config.concurrency.map((c) => c.limit) });
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

  private async execute({ fn, config, event }: Job) {
    const run = functionRun(fn, event, (events) => this.send(events));
    const maxAttempts = (config.retries ?? 4) + 1;
    for (let attempt = 1; ; attempt++) {
      const failure = await run.attempt();
      if (!failure) return;
      if (!failure.permanent && attempt < maxAttempts) {
        log.warn("workflow attempt failed; retrying", { function: config.id, attempt, error: failure.message });
        await new Promise((r) =>
          setTimeout(r, this.options.retryDelayMs?.(attempt) ?? Math.min(2_000 * 2 ** (attempt - 1), 300_000)),
        );
        continue;
      }
      log.warn("workflow failed", { function: config.id, error: failure.message });
      if (!config.hasFailureHandler) return;
      const handlerFailure = await run.fail(failure);
      if (handlerFailure)
        log.error("workflow failure handler failed", { function: config.id, error: handlerFailure.message });
      return;
    }
  }
}

const KEY = Symbol.for("coffer.in-process-engine");
type Holder = { [KEY]?: InProcessEngine };

/**
 * The process-wide engine running every workflow (one even if a bundler loads this module twice),
 * registered as where lib's requests for work go (in the app at start, in tests where they make
 * it). The functions are imported on first use: they read the environment through the client.
 * `options` apply when this call creates it.
 */
export async function inProcessEngine(options?: EngineOptions): Promise<InProcessEngine> {
  const holder = globalThis as Holder;
  if (!holder[KEY]) {
    const { functions } = await import("./functions");
    if (!holder[KEY]) {
      const engine = new InProcessEngine(functions as AnyFunction[], options);
      registerDispatcher(dispatcherFor((events) => engine.send(events)));
      holder[KEY] = engine;
    }
  }
  return holder[KEY];
}

import { Cron } from "croner";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { pgCode } from "@/lib/db";
import { log } from "@/lib/log";
import { registerDispatcher } from "@/lib/workflows/dispatch";
import { beatInstance, INSTANCE_BEAT_MS, liveInstancesAllTeams, stopInstance } from "@/lib/workflows/instance";
import {
  claimRuns,
  finishRun,
  forgetExpiredKeys,
  handBackRuns,
  nextDue,
  queueOnce,
  recordRunFailure,
  requeueInterruptedAllTeams,
  retryRunAt,
  type NewRun,
  type QueuedRun,
  type Sighting,
} from "@/lib/workflows/queue";
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
 * (24 h), concurrency limits, retries with back-off (resuming after the completed steps) and
 * onFailure. The queue lives in the database (lib/workflows/queue.ts): once started, the engine
 * takes up at once the runs a process that is gone left queued or running, and on shutdown hands
 * back what it could not finish. docs/design/crash-safety.md explains the design.
 */

const DEDUPE_MS = 24 * 60 * 60 * 1000;
/** Once started: how often the engine looks for due runs (retries, other instances' work, runs a gone process held). */
const POLL_MS = 2_000;
const INTERRUPTED =
  "The process running it ended (a restart or crash) during its last attempt, and no attempts are left.";

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
  private readonly functions = new Map<string, { fn: AnyFunction; config: FunctionConfig }>();
  private readonly crons: Cron[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private readonly executing = new Map<number, Promise<void>>();
  private readonly handedBack = new Set<number>();
  private pumping: Promise<void> | undefined;
  private again = false;
  private wake: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Aborted when the engine stops: waits before retrying a write end at once. */
  private readonly halted = new AbortController();
  /** Sends and cron runs being queued: `idle` waits for them (callers need not await a send). */
  private readonly queueing = new Set<Promise<unknown>>();

  constructor(
    functions: AnyFunction[],
    private readonly options: EngineOptions = {},
  ) {
    for (const fn of functions) {
      const config = configOf(fn);
      for (const c of config.concurrency) if (c.key) keyValue(c.key, { data: {} });
      this.functions.set(config.id, { fn, config });
    }
  }

  /** Queues a run of every function the events trigger; resolves with the events' ids. An id seen in the last 24 h is ignored. */
  send(events: OutgoingEvent[]): Promise<string[]> {
    return this.queued(this.queue(events));
  }

  private queued<T>(p: Promise<T>): Promise<T> {
    this.queueing.add(p);
    void p.finally(() => this.queueing.delete(p)).catch(() => {});
    return p;
  }

  private async queue(events: OutgoingEvent[]): Promise<string[]> {
    const stamped = events.map((e) => ({
      sent: e,
      event: { id: e.id ?? randomUUID(), name: e.name, data: e.data ?? {}, ts: Date.now() },
    }));
    await queueOnce(async (firstSighting) => {
      const runs: NewRun[] = [];
      for (const { sent, event } of stamped) {
        if (sent.id && !(await firstSighting(`event:${sent.id}`, DEDUPE_MS))) continue;
        for (const { fn, config } of this.functions.values())
          if (config.events.includes(event.name)) {
            const run = await this.newRun(fn, event, firstSighting);
            if (run) runs.push(run);
          }
      }
      return runs;
    });
    this.pump();
    return stamped.map((s) => s.event.id);
  }

  /**
   * Starts the engine for good: records this instance (and its heartbeat), takes up what a gone
   * process left, starts the cron triggers and looks for due runs every POLL_MS until `stop`.
   */
  async start(): Promise<void> {
    if (this.poll) return;
    await beatInstance();
    let beat = Date.now();
    const tick = async () => {
      if (Date.now() - beat >= INSTANCE_BEAT_MS) {
        beat = Date.now();
        await beatInstance();
        await forgetExpiredKeys();
      }
      await this.recover();
      this.pump();
    };
    this.poll = setInterval(
      () => void tick().catch((err: unknown) => log.warn("workflow poll failed", { err })),
      POLL_MS,
    );
    this.startCrons();
    await this.recover();
    this.pump();
  }

  /** Starts the cron triggers (once, however often it is called); `stop` ends them. */
  private startCrons(): void {
    if (this.crons.length) return;
    for (const { fn, config } of this.functions.values())
      for (const cron of config.crons)
        this.crons.push(
          // Instances sharing a database run each tick (a minute at the finest) once.
          new Cron(
            cron,
            { timezone: "UTC", protect: true },
            () => void this.runCron(fn, cron, `cron:${config.id}:${cron}:${Math.round(Date.now() / 60_000)}`),
          ),
        );
  }

  /** Queues one run of a cron function now (what its timer does), for start-up and tests. */
  runCron(fn: AnyFunction, cron = "manual", dedupe?: string): Promise<void> {
    return this.queued(this.queueCron(fn, cron, dedupe));
  }

  private async queueCron(fn: AnyFunction, cron: string, dedupe?: string) {
    await queueOnce(async (firstSighting) => {
      if (dedupe && !(await firstSighting(dedupe, DEDUPE_MS))) return [];
      const event = { id: randomUUID(), name: "inngest/scheduled.timer", data: { cron }, ts: Date.now() };
      const run = await this.newRun(fn, event, firstSighting);
      return run ? [run] : [];
    });
    this.pump();
  }

  /** Stops taking runs; resolves once the sends, the pass and the runs under way have finished (nothing touches the database after). */
  async stop(): Promise<void> {
    this.halt();
    while (this.pumping || this.executing.size || this.queueing.size)
      await Promise.allSettled([this.pumping, ...this.executing.values(), ...this.queueing]);
    clearTimeout(this.wake); // a pass under way when halted may have set it
  }

  private halt(): void {
    this.stopping = true;
    this.halted.abort();
    for (const c of this.crons.splice(0)) c.stop();
    clearInterval(this.poll);
    clearTimeout(this.wake);
    this.poll = undefined;
  }

  /**
   * Stops taking runs, lets those going finish for up to `graceMs`, then hands the rest back to
   * the queue (their jobs with `handBackJobs`, which stops their attempts) for the next instance,
   * and records this instance as stopped. Resolves with how many were handed back.
   */
  async shutdown(graceMs: number, handBackJobs: () => Promise<number>): Promise<number> {
    this.halt();
    const going = () => Promise.allSettled([...this.executing.values()]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([going(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    const back = await handBackRuns();
    for (const id of back) this.handedBack.add(id);
    if (back.length) {
      await handBackJobs();
      // The attempts see their jobs handed back within a second or two and clean up what they wrote.
      await Promise.race([going(), new Promise((r) => (timer = setTimeout(r, 15_000)))]);
      clearTimeout(timer);
    }
    await stopInstance();
    return back.length;
  }

  /** Resolves when none of this engine's runs is queued or running. */
  async idle(): Promise<void> {
    // A pass under way may have looked for due runs before these sends queued theirs: it must not answer for them.
    while (this.queueing.size || this.pumping) await Promise.allSettled([...this.queueing, this.pumping]);
    const done = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.pump();
    return done;
  }

  private async newRun(fn: AnyFunction, event: TriggeringEvent, firstSighting: Sighting): Promise<NewRun | undefined> {
    const config = configOf(fn);
    const subject = config.idempotency ? keyValue(config.idempotency, event) : undefined;
    if (subject !== undefined && !(await firstSighting(`idem:${config.id}:${subject}`, DEDUPE_MS))) return undefined;
    const concurrencyKeys = config.concurrency.map(
      (c) => `${config.id}:${c.key ? `${c.key}=${keyValue(c.key, event)}` : "*"}`,
    );
    return { functionId: config.id, event, subject, concurrencyKeys };
  }

  private maxAttempts(functionId: string) {
    return (this.functions.get(functionId)?.config.retries ?? 4) + 1;
  }

  /** Queues again the runs of processes that are gone (counting the attempt each was making). */
  private async recover() {
    const taken = await requeueInterruptedAllTeams(
      await liveInstancesAllTeams(),
      (id) => this.maxAttempts(id),
      INTERRUPTED,
    );
    if (taken) log.warn("workflow runs of a process that ended taken up again", { runs: taken });
  }

  /** Claims and starts what is due; one pass at a time (a call during a pass asks for another). */
  private pump() {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = this.pass()
      .catch((err: unknown) => log.error("workflow queue failed", { err }))
      .finally(() => {
        this.pumping = undefined;
        if (this.again) {
          this.again = false;
          this.pump();
        }
      });
  }

  private async pass() {
    if (this.stopping) return;
    const claimed = await claimRuns([...this.functions.keys()], (run) =>
      this.functions.get(run.functionId)!.config.concurrency.map((c) => c.limit),
    );
    for (const run of claimed) {
      const execution = this.execute(run)
        .catch((err: unknown) => log.error("workflow run failed to record", { function: run.functionId, err }))
        .finally(() => {
          this.executing.delete(run.id);
          this.pump();
        });
      this.executing.set(run.id, execution);
    }
    if (this.executing.size) return;
    const { at, pending } = await nextDue([...this.functions.keys()]);
    if (!pending) for (const w of this.idleWaiters.splice(0)) w();
    clearTimeout(this.wake);
    if (at) this.wake = setTimeout(() => this.pump(), Math.max(0, at.getTime() - Date.now()) + 5).unref();
  }

  private async execute(queued: QueuedRun) {
    const { fn, config } = this.functions.get(queued.functionId)!;
    const run = functionRun(fn, queued.event, (events) => this.send(events), queued.steps);
    // Each write below changes the run only while this instance still holds its claim. When it
    // does not, another instance took the run over (this one was judged gone): the run, its job
    // and its onFailure are that instance's, so this one leaves them, and stops there.
    const mine = async (write: () => Promise<boolean>) => {
      const owned = await this.recorded(write);
      if (!owned) log.warn("workflow run taken over by another instance; leaving it", { function: config.id });
      return owned;
    };
    let failure = queued.failure;
    if (!failure) {
      const attempt = queued.attempts;
      const failed = await run.attempt();
      if (this.handedBack.has(queued.id)) return; // shutdown: the next instance takes it from here
      if (!failed) {
        await mine(() => finishRun(queued.id));
        return;
      }
      if (!failed.permanent && attempt < this.maxAttempts(config.id)) {
        const delay = this.options.retryDelayMs?.(attempt) ?? Math.min(2_000 * 2 ** (attempt - 1), 300_000);
        if (await mine(() => retryRunAt(queued.id, run.steps(), new Date(Date.now() + delay))))
          log.warn("workflow attempt failed; retrying", { function: config.id, attempt, error: failed.message });
        return;
      }
      if (!config.hasFailureHandler) {
        if (await mine(() => finishRun(queued.id)))
          log.warn("workflow failed", { function: config.id, error: failed.message });
        return;
      }
      failure = failed;
      if (!(await mine(() => recordRunFailure(queued.id, run.steps(), failed)))) return;
      log.warn("workflow failed", { function: config.id, error: failed.message });
    }
    if (config.hasFailureHandler) {
      const handlerFailure = await run.fail(failure);
      if (this.handedBack.has(queued.id)) return;
      if (handlerFailure)
        log.error("workflow failure handler failed", { function: config.id, error: handlerFailure.message });
    }
    await mine(() => finishRun(queued.id));
  }

  /**
   * Writes how a run went, again while the database refuses (a dropped connection, a full disk):
   * until then the run stays claimed by this live process, which no sweep takes up again, and
   * holds a place in its function's concurrency (a tick's, the sweeper's). A value or constraint
   * the database refuses (SQLSTATE classes 22 and 23) stays refused, so that error is thrown at
   * once; stopping, it gives up after one more try: the next process takes the run up again.
   */
  private async recorded<T>(write: () => Promise<T>): Promise<T> {
    for (let delay = 250; ; delay = Math.min(2 * delay, 30_000)) {
      const stopping = this.stopping;
      try {
        return await write();
      } catch (err) {
        if (stopping || /^2[23]/.test(pgCode(err) ?? "")) throw err;
        log.error("could not record how a workflow run went; trying again", { err, inMs: delay });
        await sleep(delay, undefined, { signal: this.halted.signal }).catch(() => {});
      }
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

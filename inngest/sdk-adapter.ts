import { InngestTestEngine } from "@inngest/test";
import type { Context, InngestFunction } from "inngest";

/**
 * The in-process engine's one door into the Inngest SDK. Beyond the public API it relies on the
 * following, which sdk-adapter.test.ts checks so an SDK upgrade that changes any of it fails loudly:
 * - a function's configuration is `fn.opts`; its client is `fn.client`;
 * - `@inngest/test`'s InngestTestEngine runs one attempt with the real step tools when
 *   `transformCtx` returns the context unchanged, reports completed steps in `state` keyed by
 *   hashed step ids, and skips those steps when handed them back (`idIsHashed`);
 * - `createExecution` runs the `onFailure` handler when given `handlerKind: "failure"`;
 * - `step.sendEvent` sends through the client, which has no server here: it is routed to the
 *   engine instead, as a memoized step.
 */

export type AnyFunction = InngestFunction.Any;
export interface OutgoingEvent {
  id?: string;
  name: string;
  data?: Record<string, unknown>;
}
export interface TriggeringEvent {
  id: string;
  name: string;
  data: Record<string, unknown>;
  ts: number;
}
/** Queues events; resolves with their ids. */
type EventSink = (events: OutgoingEvent[]) => Promise<string[]>;
/** How an attempt failed; `permanent` (NonRetriableError) means no retry. */
interface Failure {
  name: string;
  message: string;
  permanent: boolean;
}
interface Concurrency {
  key?: string;
  limit: number;
}

interface FunctionOptions {
  id: string;
  triggers?: { event?: string | { name: string }; cron?: string }[];
  retries?: number;
  idempotency?: string;
  concurrency?: number | Concurrency | Concurrency[];
  onFailure?: unknown;
}

/** What the engine reads of a function's configuration. */
export function configOf(fn: AnyFunction) {
  const o = (fn as unknown as { opts: FunctionOptions }).opts;
  const c = o.concurrency;
  return {
    id: o.id,
    events: (o.triggers ?? []).flatMap((t) => (t.event ? [typeof t.event === "string" ? t.event : t.event.name] : [])),
    crons: (o.triggers ?? []).flatMap((t) => (t.cron ? [t.cron] : [])),
    retries: o.retries,
    idempotency: o.idempotency,
    concurrency: c === undefined ? [] : typeof c === "number" ? [{ limit: c }] : Array.isArray(c) ? c : [c],
    hasFailureHandler: typeof o.onFailure === "function",
  };
}
export type FunctionConfig = ReturnType<typeof configOf>;

/** The context with `step.sendEvent` delivering to `sink` in a step of the same id. */
const routingSends =
  (sink: EventSink) =>
  (ctx: Context.Any): Context.Any => {
    const sendEvent = ((id: Parameters<Context.Any["step"]["run"]>[0], payload: OutgoingEvent | OutgoingEvent[]) =>
      ctx.step.run(id, async () => ({
        ids: await sink(Array.isArray(payload) ? payload : [payload]),
      }))) as Context.Any["step"]["sendEvent"];
    return { ...ctx, step: { ...ctx.step, sendEvent } };
  };

const failureOf = (out: unknown): Failure | undefined => {
  const error = (out as { error?: { name?: string; message?: string } }).error;
  if (!error) return undefined;
  const name = error.name ?? "Error";
  return { name, message: error.message ?? "The workflow failed.", permanent: name === "NonRetriableError" };
};

/** Completed steps' outputs by hashed step id, as JSON (an output of `undefined` is stored as null, as a server does). */
export type StepState = Record<string, unknown>;

/**
 * One run of `fn` for `event`. Each `attempt()` resumes after the steps completed before (`done`,
 * then those of earlier attempts), as a server does on retry; `steps()` is what to resume after
 * next time; `fail()` runs the function's onFailure handler.
 */
export function functionRun(fn: AnyFunction, event: TriggeringEvent, sink: EventSink, done: StepState = {}) {
  const transformCtx = routingSends(sink);
  const engine = new InngestTestEngine({ function: fn, events: [event], transformCtx });
  let state: StepState = done;
  return {
    async attempt(): Promise<Failure | undefined> {
      const steps = Object.entries(state).map(([id, value]) => ({ id, idIsHashed: true, handler: () => value }));
      const out = await engine.execute({ steps });
      const settled = await Promise.all(
        Object.entries(out.state as Record<string, unknown>).map(async ([id, value]) => {
          try {
            return [[id, JSON.parse(JSON.stringify((await value) ?? null)) as unknown]];
          } catch {
            return []; // a step that failed is not done
          }
        }),
      );
      state = { ...state, ...(Object.fromEntries(settled.flat() as [string, unknown][]) as StepState) };
      return failureOf(out);
    },
    steps: (): StepState => state,
    /** Runs onFailure with the run's last failure; returns how the handler itself failed, if it did. */
    async fail(failure: Failure): Promise<Failure | undefined> {
      const asFailureHandler = new Proxy(fn, {
        get(target, prop, receiver) {
          if (prop !== "createExecution") return Reflect.get(target, prop, receiver);
          return (opts: { partialOptions: Record<string, unknown> }) =>
            (target as unknown as { createExecution: (o: unknown) => unknown }).createExecution({
              ...opts,
              partialOptions: { ...opts.partialOptions, handlerKind: "failure" },
            });
        },
      });
      const appId = (fn as unknown as { client: { id: string } }).client.id;
      const failed = {
        name: "inngest/function.failed",
        data: {
          function_id: fn.id(appId),
          run_id: event.id,
          error: { name: failure.name, message: failure.message },
          event,
        },
      };
      const out = await new InngestTestEngine({ function: asFailureHandler, events: [failed], transformCtx }).execute();
      return failureOf(out);
    },
  };
}

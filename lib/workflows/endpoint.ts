import "server-only";
import type { NextRequest } from "next/server";
import { stoppingFor } from "./stopping";

type Handler = (request: NextRequest, context: unknown) => Promise<Response>;
/** The HTTP endpoint an Inngest server calls to run the workflows (served at /api/inngest). */
export interface WorkflowEndpoint {
  GET: Handler;
  POST: Handler;
  PUT: Handler;
}

// On globalThis for the same reason as the dispatcher (./dispatch.ts): one registration per process.
const KEY = Symbol.for("coffer.workflow-endpoint");
type Holder = { [KEY]?: WorkflowEndpoint };

/** Registered at start only when an Inngest server runs the workflows (inngest/start.ts). */
export function registerWorkflowEndpoint(endpoint: WorkflowEndpoint): void {
  (globalThis as Holder)[KEY] = endpoint;
}

const IN_FLIGHT = Symbol.for("coffer.workflow-steps-in-flight");
type Counter = { [IN_FLIGHT]?: { running: number; idle: Set<() => void> } };
const steps = () => ((globalThis as Counter)[IN_FLIGHT] ??= { running: 0, idle: new Set() });

function stepEnded() {
  const s = steps();
  s.running--;
  if (s.running === 0) for (const wake of s.idle) wake();
}

/**
 * Counts a step request until its answer has been sent (the SDK may stream it), so that a stopping
 * instance can wait for it.
 */
async function counted(run: () => Promise<Response>): Promise<Response> {
  steps().running++;
  let response: Response;
  try {
    response = await run();
  } catch (err) {
    stepEnded();
    throw err;
  }
  if (!response.body) {
    stepEnded();
    return response;
  }
  const reader = response.body.getReader();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    stepEnded();
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (!done) return controller.enqueue(value);
        end();
        controller.close();
      } catch (err) {
        end();
        controller.error(err);
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/**
 * Waits up to `graceMs` for the step requests this instance is running to be answered (SIGTERM,
 * with an Inngest server); resolves with how many were still running then.
 */
export function stepsFinished(graceMs: number): Promise<number> {
  const s = steps();
  if (s.running === 0) return Promise.resolve(0);
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      s.idle.delete(done);
      resolve(s.running);
    };
    const timer = setTimeout(done, graceMs);
    s.idle.add(done);
  });
}

/**
 * How long a stopping instance still takes new steps: until the proxy has seen it unready (it asks
 * /api/ready every 5 s and does not send a refused request elsewhere), so that steps go to the
 * other instances instead of being refused, which an Inngest server counts as a failed attempt.
 */
export const TAKES_STEPS_WHILE_STOPPING_MS = 15_000;

/**
 * The route handler for `method`. Without a registered endpoint (workflows run in-process) it is a
 * 404: the SDK's dev-mode handler would otherwise run a function for anyone who called it. A
 * stopping instance answers a new step with 503 once the proxy has had time to take it out of
 * its rotation, and the Inngest server sends the step again.
 */
export const workflowEndpoint =
  (method: keyof WorkflowEndpoint): Handler =>
  (request, context) => {
    const endpoint = (globalThis as Holder)[KEY];
    if (!endpoint) return Promise.resolve(new Response("Not found", { status: 404 }));
    if (method !== "POST") return endpoint[method](request, context);
    if ((stoppingFor() ?? 0) > TAKES_STEPS_WHILE_STOPPING_MS)
      return Promise.resolve(
        Response.json(
          { error: "This Coffer instance is stopping; the step runs again on another one." },
          { status: 503, headers: { "retry-after": "5" } },
        ),
      );
    return counted(() => endpoint.POST(request, context));
  };

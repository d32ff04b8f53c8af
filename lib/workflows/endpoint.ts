import "server-only";
import type { NextRequest } from "next/server";

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

/**
 * The route handler for `method`. Without a registered endpoint (workflows run in-process) it is a
 * 404: the SDK's dev-mode handler would otherwise run a function for anyone who called it.
 */
export const workflowEndpoint =
  (method: keyof WorkflowEndpoint): Handler =>
  (request, context) => {
    const endpoint = (globalThis as Holder)[KEY];
    return endpoint ? endpoint[method](request, context) : Promise.resolve(new Response("Not found", { status: 404 }));
  };

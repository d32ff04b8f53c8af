import { NonRetriableError } from "inngest";
import { asAppError } from "@/lib/errors";
import { log } from "@/lib/log";
import { ReachError } from "@/lib/reach";

// TOO_LARGE: a team's quota on this host's disk, or an Inngest server's limit on a step: a retry
// would only reach it again.
const permanentCodes = new Set(["VALIDATION", "NOT_FOUND", "FORBIDDEN", "CONFLICT", "UNAUTHENTICATED", "TOO_LARGE"]);

/**
 * A step's error as the workflow should see it. Permanent failures (bad settings, missing rows,
 * refused credentials, a cancelled run) become NonRetriableError and go straight to the failure
 * handler; the rest (network, timeouts, a busy server) are retried. What leaves a step is always
 * safe to show: an unknown error is logged here and replaced by a generic message.
 */
export function toWorkflowError(err: unknown, context: Record<string, unknown>): Error {
  if (err instanceof ReachError && err.permanent) return new NonRetriableError(err.message);
  const app = asAppError(err);
  if (app) return permanentCodes.has(app.code) ? new NonRetriableError(app.message) : app;
  log.error("workflow step failed", { ...context, err });
  return new Error("An unexpected error stopped the run (details are in Coffer's server log).");
}

/** Runs a step body, mapping its failure with toWorkflowError. */
export async function mapped<T>(context: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toWorkflowError(err, context);
  }
}

import { AppError, asAppError } from "../errors";
import { log } from "../log";

/** A job stopped for good (cancelled, failed by the sweeper, taken over by another process): no retry. */
export class RunStopped extends AppError {
  constructor(message: string) {
    super("CONFLICT", message);
    this.name = "RunStopped";
  }
}

/** The message a user sees for a failure: an AppError's own, otherwise a generic one (details go to the log). */
export function failureMessage(err: unknown, context: Record<string, unknown>): string {
  const app = asAppError(err);
  if (app) return app.message;
  log.error("backup failed", { ...context, err });
  return "The backup failed with an unexpected error (details are in Coffer's server log). Try again; if it keeps failing, check the server and destinations with Test.";
}

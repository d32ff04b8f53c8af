import { bigserial, index, integer, jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { timestampColumn } from "../columns";

/**
 * The in-process workflow engine's state (used when no Inngest server is configured), across
 * teams: the processes running it, its queue of runs and the keys it deduplicates on. A restart
 * resumes the queue from here.
 */

/** A process running workflows: `seenAt` is its heartbeat; `stoppedAt` is set when it shuts down cleanly. */
export const workflowInstances = pgTable("workflow_instances", {
  id: text("id").primaryKey(),
  host: text("host").notNull(),
  pid: integer("pid").notNull(),
  startedAt: timestampColumn("started_at").notNull(),
  seenAt: timestampColumn("seen_at").notNull(),
  stoppedAt: timestampColumn("stopped_at"),
});

/**
 * A queued, running or failing run of a function. `steps` holds the steps its attempts completed
 * (a retry resumes after them); `claimedBy` the instance running it. Finished runs are deleted.
 */
export const workflowRuns = pgTable(
  "workflow_runs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    functionId: text("function_id").notNull(),
    event: jsonb("event").$type<{ id: string; name: string; data: Record<string, unknown>; ts: number }>().notNull(),
    /** The value of the function's idempotency key (a backup or restore id), when it has one. */
    subject: text("subject"),
    /** Concurrency keys, one per limit of the function's configuration, in its order. */
    concurrencyKeys: text("concurrency_keys").array().notNull(),
    status: text("status", { enum: ["queued", "running", "failing"] }).notNull(),
    /** Attempts begun, counting one a process's end interrupted. */
    attempts: integer("attempts").notNull().default(0),
    steps: jsonb("steps").$type<Record<string, unknown>>().notNull().default({}),
    /** The last attempt's failure: what onFailure gets when the run is `failing`. */
    failure: jsonb("failure").$type<{ name: string; message: string; permanent: boolean }>(),
    availableAt: timestampColumn("available_at").notNull(),
    claimedBy: text("claimed_by"),
  },
  (t) => [
    index("workflow_runs_status_available_idx").on(t.status, t.availableAt),
    index("workflow_runs_subject_idx").on(t.subject),
  ],
);

/** Event ids and idempotency keys seen, each ignored again until `expiresAt`. */
export const workflowKeys = pgTable("workflow_keys", {
  key: text("key").primaryKey(),
  expiresAt: timestampColumn("expires_at").notNull(),
});

import "server-only";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { and, eq, lt, ne } from "drizzle-orm";
import { workflowInstances } from "@/db/schema";
import { databaseKind, db } from "../db";

/**
 * This process as a workflow instance: an id recorded on every claim it makes (workflow runs and
 * jobs), with its host, pid and start time, and a heartbeat. Another process tells from these that
 * the claim's holder is gone without waiting for a job's heartbeat to grow old: it stopped
 * cleanly, it is a process of this host that no longer exists, the database is PGlite (one process
 * at a time), or its heartbeat is older than INSTANCE_GONE_AFTER_MS.
 */

/**
 * How often an instance records that it is alive, and after how long without that it is gone: ten
 * beats, so a database failover or a stalled event loop of a few seconds does not hand every
 * running backup of a live instance to another one.
 */
export const INSTANCE_BEAT_MS = 3_000;
export const INSTANCE_GONE_AFTER_MS = 30_000;

const KEY = Symbol.for("coffer.workflow-instance");
type Holder = { [KEY]?: string };

/** This process's instance id (one per process, even if a bundler loads this module twice). */
export function instanceId(): string {
  const holder = globalThis as Holder;
  return (holder[KEY] ??= `ins_${randomBytes(10).toString("hex")}`);
}

/** Records this instance as started (or alive again). */
export async function beatInstance(): Promise<void> {
  const d = await db();
  const now = new Date();
  await d
    .insert(workflowInstances)
    .values({ id: instanceId(), host: hostname(), pid: process.pid, startedAt: now, seenAt: now })
    .onConflictDoUpdate({ target: workflowInstances.id, set: { seenAt: now, stoppedAt: null } });
}

/** Records that this instance stopped: what it claimed can be taken up at once. */
export async function stopInstance(): Promise<void> {
  const d = await db();
  await d.update(workflowInstances).set({ stoppedAt: new Date() }).where(eq(workflowInstances.id, instanceId()));
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The instances alive now, this one included (for the engine's recovery, across teams): a claim
 * held by any other id belongs to a process that is gone. Records gone for a day are deleted.
 */
export async function liveInstancesAllTeams(now = new Date()): Promise<Set<string>> {
  const d = await db();
  const all = await d.select().from(workflowInstances);
  const single = (await databaseKind()) === "pglite";
  const me = instanceId();
  const live = all.filter(
    (i) =>
      i.id === me ||
      (!single &&
        i.stoppedAt === null &&
        i.seenAt.getTime() >= now.getTime() - INSTANCE_GONE_AFTER_MS &&
        !(i.host === hostname() && (i.pid === process.pid || !processExists(i.pid)))),
  );
  await d
    .delete(workflowInstances)
    .where(and(ne(workflowInstances.id, me), lt(workflowInstances.seenAt, new Date(now.getTime() - 24 * 3_600_000))));
  return new Set([me, ...live.map((i) => i.id)]);
}

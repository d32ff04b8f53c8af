import "server-only";
import { asc, eq } from "drizzle-orm";
import { backupLogs, restoreLogs } from "@/db/schema";
import { db } from "../db";
import { log } from "../log";
import { inTeam, type TeamContext } from "../teams/context";
import type { Job, JobKind } from "./table";

export async function appendJobLog(job: Job, level: "info" | "error", message: string): Promise<void> {
  const d = await db();
  const line = { teamId: job.teamId, level, message: message.slice(0, 2000) };
  if (job.kind === "backup") await d.insert(backupLogs).values({ ...line, backupId: job.id });
  else await d.insert(restoreLogs).values({ ...line, restoreId: job.id });
}

/** A running job's log: lines are written in order without holding up the work. */
export function jobLog(job: Job) {
  let chain = Promise.resolve();
  const write = (level: "info" | "error", message: string) => {
    chain = chain
      .then(() => appendJobLog(job, level, message))
      .catch((err: unknown) => log.warn("job log write failed", { [`${job.kind}Id`]: job.id, err }));
  };
  return { info: (m: string) => write("info", m), error: (m: string) => write("error", m), flush: () => chain };
}

/** A job's log for its page, oldest line first (the first 1000). */
export async function readJobLog(t: TeamContext, kind: JobKind, id: string) {
  const d = await db();
  const lines = kind === "backup" ? backupLogs : restoreLogs;
  const of = kind === "backup" ? backupLogs.backupId : restoreLogs.restoreId;
  return d
    .select({ id: lines.id, level: lines.level, message: lines.message, createdAt: lines.createdAt })
    .from(lines)
    .where(inTeam(lines, t, eq(of, id)))
    .orderBy(asc(lines.id))
    .limit(1000);
}

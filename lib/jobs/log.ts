import "server-only";
import { backupLogs, restoreLogs } from "@/db/schema";
import { db } from "../db";
import { log } from "../log";
import type { Job } from "./table";

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

import "server-only";
import { eq } from "drizzle-orm";
import { backups, restores } from "@/db/schema";
import { db } from "../db";
import { logEnded, markEnded } from "../jobs/end";
import { emit } from "../notifications/emit";
import { failureMessage } from "../jobs/failure";
import { appendJobLog } from "../jobs/log";
import { staleAllTeams } from "../jobs/sweep";
import { inTeam, systemTeam } from "../teams/context";
import { dropScratch } from "./scratch";

/**
 * The end of a job that did not succeed: failed (or cancelled), its scratch database dropped.
 * `staleAt` (the sweeper's): only while the job is still stale at that time, not when a retry took
 * it up again meanwhile. Idempotent.
 */
export async function failRestore(
  teamId: string,
  restoreId: string,
  message: string,
  opts: { staleAt?: Date } = {},
): Promise<{ status: "failed" | "cancelled" | "unchanged"; backupId: string }> {
  const t = await systemTeam(teamId, "restore");
  const status = await markEnded(
    "restore",
    t,
    restoreId,
    message,
    {},
    opts.staleAt && staleAllTeams("restore", opts.staleAt),
  );
  const d = await db();
  const [job] = await d
    .select()
    .from(restores)
    .where(inTeam(restores, t, eq(restores.id, restoreId)));
  const log = (line: string) => appendJobLog({ kind: "restore", teamId, id: restoreId }, "error", line);
  // A job running again (a retry took it up) still uses its scratch database.
  if (job && !job.scratchDroppedAt && job.status !== "running" && job.status !== "queued") {
    await dropScratch(t, job).catch((err: unknown) =>
      log(
        `Could not drop the scratch database ${job.scratchDatabase} yet (the sweeper tries again): ${failureMessage(err, { restoreId })}`,
      ),
    );
  }
  if (!status || !job) return { status: "unchanged", backupId: job?.backupId ?? "" };
  if (job.kind === "verify" && status === "failed") {
    await d
      .update(backups)
      .set({
        verification: {
          status: "failed",
          at: new Date().toISOString(),
          restoreId,
          tables: 0,
          files: 0,
          differences: [message.slice(0, 500)],
        },
      })
      .where(inTeam(backups, t, eq(backups.id, job.backupId)));
  }
  await logEnded("restore", t, restoreId, status, message);
  if (status === "failed")
    await emit(t, job.kind === "verify" ? "verification.failed" : "restore.failed", { restoreId });
  if (job.swapStartedAt) {
    await log(
      `It stopped while putting the restored database in place, which happens all at once: ${job.targetDatabase} holds either the restored data or what it held before. Check it before restoring again.`,
    );
  }
  return { status, backupId: job.backupId };
}

import "server-only";
import { eq, sql } from "drizzle-orm";
import { backups, restores, servers } from "@/db/schema";
import type { RestoredSummary, VerificationResult } from "@/db/schema";
import { succeededBackup } from "../backups/open-archive";
import { db } from "../db";
import { notFound } from "../errors";
import { formatBytes, formatCount } from "../format";
import { startAttempt } from "../jobs/attempt";
import { claimJob, stopIfCancelRequested } from "../jobs/claim";
import { RunStopped } from "../jobs/failure";
import { emit } from "../notifications/emit";
import { assertClaim, ours, runningJob } from "../jobs/table";
import { inTeam, systemTeam } from "../teams/context";
import { restoreDatabase } from "./database";
import { restoreFolders } from "./folders";
import type { RestoreCtx, RestoreOutcome } from "./job";
import { verify } from "./verify";

/**
 * Starts (or, on a retry, restarts) a queued or running job; resolves with the claim that guards
 * the job's writes, or null when there is nothing to do. A running job someone asked to cancel
 * throws RunStopped, to be failed.
 */
export async function claimRestore(teamId: string, restoreId: string): Promise<number | null> {
  const job = { kind: "restore" as const, teamId, id: restoreId };
  const attempt = await claimJob(job);
  if (attempt === null) await stopIfCancelRequested(job);
  return attempt;
}

/**
 * Runs a claimed restore or verification to its end. A verification's differences are its result
 * (it returns normally); anything else that fails is thrown for the workflow to retry or fail.
 */
export async function performRestore(teamId: string, restoreId: string, attempt: number): Promise<RestoreOutcome> {
  const t = await systemTeam(teamId, "restore");
  const d = await db();
  const [job] = await d
    .select()
    .from(restores)
    .where(inTeam(restores, t, eq(restores.id, restoreId)));
  if (!job) throw notFound("That restore");
  assertClaim("job", job, attempt);
  const backup = await succeededBackup(t, job.backupId);
  const [server] = await d
    .select({ name: servers.name, kind: servers.kind })
    .from(servers)
    .where(inTeam(servers, t, eq(servers.id, job.serverId)));
  if (!server) throw notFound("The target server");
  const claim = runningJob("restore", t, restoreId, attempt);
  const run = startAttempt(claim);
  const ctx: RestoreCtx = {
    t,
    job,
    claim,
    backup,
    server,
    signal: run.signal,
    say: run.say,
    onBytes: run.progress,
    copies: { reading: null, damaged: new Set() },
  };
  try {
    let outcome: RestoreOutcome;
    let result: VerificationResult | null = null;
    let restored: RestoredSummary | null = null;
    if (job.kind === "database") {
      const { counts, ...done } = await restoreDatabase(ctx);
      restored = { kind: "database", database: done.database, tables: done.tables, rows: done.rows, counts };
      outcome = { backupId: job.backupId, ...done };
    } else if (job.kind === "directory") {
      const done = await restoreFolders(ctx);
      restored = done;
      outcome = { backupId: job.backupId, ...done };
    } else {
      result = await verify(ctx);
      outcome = {
        backupId: job.backupId,
        kind: "verify",
        verified: result.differences.length === 0,
        differences: result.differences.length,
      };
    }
    await run.settle();
    const failed = result && result.differences.length > 0;
    const error = failed
      ? `Verification found ${formatCount(result!.differences.length, "difference")}: ${result!.differences.slice(0, 3).join("; ")}${result!.differences.length > 3 ? "; …" : ""}`
      : null;
    const finished = await d.transaction(async (tx) => {
      const [row] = await tx
        .update(restores)
        .set({
          status: failed ? "failed" : "succeeded",
          finishedAt: new Date(),
          result,
          restored,
          error,
          bytesDone: sql`coalesce(${restores.totalBytes}, ${restores.bytesDone})`,
        })
        .where(ours(claim))
        .returning({ id: restores.id });
      if (row && result) {
        const at = new Date();
        await tx
          .update(backups)
          .set({
            // A failed verification ends an earlier one's word: retention then protects the last backup still known good.
            verifiedAt: failed ? null : at,
            verification: {
              status: failed ? "failed" : "verified",
              at: at.toISOString(),
              restoreId,
              tables: result.tables,
              files: result.files,
              differences: result.differences.slice(0, 50),
            },
          })
          .where(inTeam(backups, t, eq(backups.id, job.backupId)));
      }
      return row;
    });
    if (!finished) throw new RunStopped("The job was stopped as it finished.");
    const event =
      job.kind !== "verify" ? "restore.succeeded" : failed ? "verification.failed" : "verification.succeeded";
    await emit(t, event, { restoreId });
    run.say(describeOutcome(outcome));
    if (error) run.sayError(error);
    return outcome;
  } catch (err) {
    throw run.failed(err);
  } finally {
    await run.close();
  }
}

function describeOutcome(o: RestoreOutcome): string {
  if (o.kind === "database")
    return `Restored ${o.database}: ${formatCount(o.tables, "table")}, ${formatCount(o.rows, "row")}.`;
  if (o.kind === "directory") return `Restored ${formatCount(o.files, "file")} (${formatBytes(o.bytes)}) to ${o.path}.`;
  return o.verified
    ? "Verified: every check matched the manifest."
    : `Not verified: ${formatCount(o.differences, "difference")}.`;
}

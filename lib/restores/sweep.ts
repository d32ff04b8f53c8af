import "server-only";
import { and, inArray, isNotNull, isNull } from "drizzle-orm";
import { restores } from "@/db/schema";
import { db } from "../db";
import { log } from "../log";
import { staleAllTeams, waitingAllTeams } from "../jobs/sweep";
import { systemTeam } from "../teams/context";
import { failRestore } from "./fail";
import { dropScratch } from "./scratch";

/**
 * What a dead process left: running jobs without progress are failed — unless they were putting
 * a restored database in place (within a day), which are dispatched again to finish — and every
 * scratch database of a finished job still on record is dropped. Returns the jobs to dispatch
 * again: those, and the queued jobs that waited longer than `requeueAfterMs`.
 */
export async function sweepRestoresAllTeams(now = new Date(), requeueAfterMs = 5 * 60_000) {
  const d = await db();
  const dispatch = {
    restoreId: restores.id,
    teamId: restores.teamId,
    serverId: restores.serverId,
    kind: restores.kind,
  };
  const stale = await d
    .select({ ...dispatch, swapStartedAt: restores.swapStartedAt })
    .from(restores)
    .where(staleAllTeams("restore", now));
  const swapping = stale.filter((r) => r.swapStartedAt && now.getTime() - r.swapStartedAt.getTime() < 24 * 3_600_000);
  let failed = 0;
  for (const r of stale) {
    if (swapping.includes(r)) continue;
    const { status } = await failRestore(
      r.teamId,
      r.restoreId,
      "The job stopped making progress: the process running it ended (a restart or crash). Run it again.",
      { staleAt: now },
    );
    if (status !== "unchanged") failed++;
  }
  const leftovers = await d
    .select()
    .from(restores)
    .where(
      and(
        inArray(restores.status, ["succeeded", "failed", "cancelled"]),
        isNotNull(restores.scratchDatabase),
        isNull(restores.scratchDroppedAt),
      ),
    );
  let dropped = 0;
  for (const job of leftovers) {
    const t = await systemTeam(job.teamId, "scratch database sweep");
    if (
      await dropScratch(t, job).catch((err: unknown) =>
        log.warn("scratch database drop failed", { restoreId: job.id, err }),
      )
    )
      dropped++;
  }
  const queued = await d
    .select(dispatch)
    .from(restores)
    .where(waitingAllTeams("restore", now, requeueAfterMs));
  return {
    failed,
    dropped,
    requeue: [...swapping.map(({ swapStartedAt: _, ...r }) => r), ...queued],
  };
}

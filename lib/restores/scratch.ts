import "server-only";
import { eq } from "drizzle-orm";
import { restores, servers } from "@/db/schema";
import { db } from "../db";
import { CLEANUP_DEADLINE_MS, withServer } from "../servers/connect";
import { inTeam, type TeamContext } from "../teams/context";
import { connectionOf, type RestoreRow } from "./job";
import { ServerPostgres } from "./postgres";

/** The scratch database of a job: `coffer_restore_<id>` or `coffer_verify_<id>[_<n>]` (lower case, under 63 bytes). */
export function scratchName(kind: "restore" | "verify", restoreId: string, n = 0): string {
  return `coffer_${kind}_${restoreId.replace(/^rst_/, "")}${n ? `_${n + 1}` : ""}`;
}

/** What the database being replaced is called between the swap and its drop. */
export const oldName = (restoreId: string) => `coffer_old_${restoreId.replace(/^rst_/, "")}`;

/** Records the scratch database that may exist (and whose connection reaches it), or that none is left (null). */
export async function setScratch(
  t: TeamContext,
  restoreId: string,
  scratch: { name: string; sourceId: string } | null,
) {
  const d = await db();
  await d
    .update(restores)
    .set(
      scratch
        ? { scratchDatabase: scratch.name, scratchSourceId: scratch.sourceId, scratchDroppedAt: null }
        : { scratchDroppedAt: new Date() },
    )
    .where(inTeam(restores, t, eq(restores.id, restoreId)));
}

/**
 * Drops a job's scratch database if one may be left (for a replacing restore, the replaced database
 * set aside by its swap too: whichever exists is not the target); true when none is left.
 */
export async function dropScratch(
  t: TeamContext,
  job: Pick<RestoreRow, "id" | "kind" | "mode" | "serverId" | "scratchDatabase" | "scratchSourceId">,
): Promise<boolean> {
  if (!job.scratchDatabase || !job.scratchSourceId) return true;
  const d = await db();
  const [server] = await d
    .select({ kind: servers.kind })
    .from(servers)
    .where(inTeam(servers, t, eq(servers.id, job.serverId)));
  if (!server) return true;
  const conn = await connectionOf(t, server.kind, job.scratchSourceId, "that reached the scratch database");
  const names =
    job.kind === "database" && job.mode === "replace" ? [job.scratchDatabase, oldName(job.id)] : [job.scratchDatabase];
  await withServer(t, job.serverId, (reach) => new ServerPostgres(reach, conn, `coffer:${job.id}`).drop(...names), {
    deadlineMs: CLEANUP_DEADLINE_MS,
  });
  await setScratch(t, job.id, null);
  return true;
}

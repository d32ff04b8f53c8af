import "server-only";
import { and, eq, exists, gt, max, sql } from "drizzle-orm";
import { backupDestinations, backups, storageDestinations } from "@/db/schema";
import { roomProblem } from "../storage/room";
import { db } from "../db";
import { env } from "../env";
import { notFound } from "../errors";
import { formatBytes } from "../format";
import { guardedAgents } from "../net/guarded-agent";
import { withServer } from "../servers/connect";
import { checked, recordCheck, type CheckResult } from "../check-result";
import { createAdapter, probeStorage, type StorageAdapter } from "../storage";
import { ServerDirAdapter } from "../storage/server-dir";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import { guardEndpoints, storageConfig } from "./config";
import { openCredentials } from "./credentials";

/** Opens a destination's adapter (and its server connection, for a server directory) around `fn`. */
export async function withDestination<T>(
  t: TeamContext,
  destinationId: string,
  fn: (adapter: StorageAdapter) => Promise<T>,
): Promise<T> {
  return withLoadedDestination(t, await destinationRow(t, destinationId), fn);
}

async function destinationRow(t: TeamContext, destinationId: string) {
  const d = await db();
  const [row] = await d
    .select()
    .from(storageDestinations)
    .where(inTeam(storageDestinations, t, eq(storageDestinations.id, destinationId)));
  if (!row) throw notFound("That destination");
  return row;
}

/** `withDestination` for a destination row already read. */
export async function withLoadedDestination<T>(
  t: TeamContext,
  row: typeof storageDestinations.$inferSelect,
  fn: (adapter: StorageAdapter) => Promise<T>,
): Promise<T> {
  if (row.kind === "server") {
    return withServer(t, row.serverId!, (reach) =>
      fn(new ServerDirAdapter(reach, String(row.settings.path), row.settings.prefix as string | undefined)),
    );
  }
  const config = storageConfig(t.id, row.kind, row.settings, openCredentials(t, row.id, row.credentialsEnc));
  await guardEndpoints(config); // again at use: DNS may answer differently than when it was saved
  // Every SDK socket also goes through the guard: it reaches exactly the checked address, and a
  // redirect or a second DNS answer cannot lead it elsewhere.
  return fn(createAdapter(config, { agents: guardedAgents(env().allowPrivateNetworks) }));
}

/**
 * Writes, reads back, verifies and deletes a probe object, checks that the largest backup sent
 * here in the last 30 days would still fit, and records the outcome.
 */
export async function testDestination(t: TeamContext, destinationId: string): Promise<CheckResult> {
  assertRole(t, "member");
  const expected = await largestRecentBackup(t, destinationId);
  const row = await destinationRow(t, destinationId);
  const result = await checked(() =>
    withLoadedDestination(t, row, async (adapter) => {
      const classes = classesToProbe(row);
      const { latencyMs } = await probeStorage(adapter, { classes });
      const room = await adapter.room(expected);
      const facts: Record<string, string> = {
        [room.freeBytes === undefined ? "largest object" : "free space"]: formatBytes(
          room.freeBytes ?? room.largestObject,
        ),
        limits: room.why,
        ...(expected && { "largest backup sent here (30 days)": formatBytes(expected) }),
      };
      const problem =
        expected &&
        roomProblem(expected, "the largest backup sent here in 30 days", [{ name: "This destination", room }]);
      if (problem) return { ok: false, message: problem, facts };
      const takes =
        room.freeBytes === undefined
          ? `takes objects up to ${formatBytes(room.largestObject)}`
          : `has ${formatBytes(room.freeBytes)} free`;
      return {
        ok: true,
        message: `Wrote, read back, verified and deleted a probe object in ${latencyMs} ms${classes.length ? ` (and one in ${classes.map((c) => c.storageClass).join(" and ")})` : ""}; ${takes}.`,
        facts,
      };
    }),
  );
  await recordCheck(storageDestinations, t, destinationId, result);
  return result;
}

/**
 * An S3-compatible service's storage classes (a custom endpoint) beyond STANDARD, which retention
 * would move copies to: many such services take fewer classes than AWS, so Test writes one in each. AWS,
 * GCS and Azure take every class Coffer offers for them.
 */
function classesToProbe(row: typeof storageDestinations.$inferSelect): { storageClass: string; tiers: string }[] {
  if (row.kind !== "s3" || !row.settings.endpoint) return [];
  const byClass = new Map<string, string[]>();
  for (const [tier, c] of [
    ["daily", row.classDaily],
    ["weekly", row.classWeekly],
    ["monthly", row.classMonthly],
  ] as const)
    if (c && c !== "STANDARD") byClass.set(c, [...(byClass.get(c) ?? []), tier]);
  return [...byClass].map(([storageClass, tiers]) => ({ storageClass, tiers: tiers.join(" and ") }));
}

async function largestRecentBackup(t: TeamContext, destinationId: string): Promise<number | undefined> {
  const d = await db();
  const [row] = await d
    .select({ size: max(backups.sizeBytes) })
    .from(backups)
    .where(
      inTeam(
        backups,
        t,
        and(
          eq(backups.status, "succeeded"),
          gt(backups.finishedAt, new Date(Date.now() - 30 * 86_400_000)),
          exists(
            d
              .select({ one: sql`1` })
              .from(backupDestinations)
              .where(
                inTeam(
                  backupDestinations,
                  t,
                  eq(backupDestinations.backupId, backups.id),
                  eq(backupDestinations.destinationId, destinationId),
                ),
              ),
          ),
        )!,
      ),
    );
  return row?.size ?? undefined;
}

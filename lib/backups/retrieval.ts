import "server-only";
import { eq } from "drizzle-orm";
import { backupLocations } from "@/db/schema";
import { recordAudit } from "../audit/record";
import { db } from "../db";
import { withDestination } from "../destinations/use";
import { AppError } from "../errors";
import { log } from "../log";
import { RETRIEVAL_HOURS, retrievalHours, type Retrieval, type StorageKind } from "../storage";
import { inTeam, type TeamContext } from "../teams/context";

/** Classes whose objects cannot be read until the provider restores them (S3 GLACIER / DEEP_ARCHIVE, Azure Archive; GCS ARCHIVE reads directly). */
export const needsRetrieval = (storageClass: string | null) =>
  storageClass !== null && Object.values(RETRIEVAL_HOURS).some((classes) => storageClass in classes);

/** Days an S3 restored copy stays readable; a retrieval older than this (plus its wait) is over. */
export const RESTORED_DAYS = 7;

// Faster first: the Coffer host's own disk, then cloud storage, then a server reached over SSH.
export const preference: Record<string, number> = { local: 0, s3: 1, gcs: 1, azure: 1, server: 2 };

type ArchivedCopy = {
  id: string;
  destinationId: string;
  objectKey: string;
  storageClass: string | null;
  retrievalRequestedAt: Date | null;
  retrievalReadyAt: Date | null;
  kind: StorageKind;
  name: string;
};

const HOUR = 3_600_000;
const utc = (d: Date) =>
  `${new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }).format(d)} UTC`;
const hoursUntil = (d: Date) => Math.max(1, Math.round((d.getTime() - Date.now()) / HOUR));
const plural = (n: number) => `${n} hour${n === 1 ? "" : "s"}`;

/**
 * For copies that cannot be read as they are: returns those whose retrieval has finished, throws
 * a CONFLICT saying when one under way is ready, or else asks one provider for a retrieval (the
 * quickest class first), records and audits it, and throws a CONFLICT saying where and when;
 * without `request`, a CONFLICT saying how to ask for one.
 */
export async function retrievedCopies<L extends ArchivedCopy>(
  t: TeamContext,
  b: { id: string; fileName: string },
  archived: L[],
  verb: string,
  request: boolean,
): Promise<L[]> {
  const d = await db();
  const checks = await Promise.all(
    archived.map(async (loc) => {
      try {
        return {
          loc,
          r: await withDestination(t, loc.destinationId, (a) => a.retrieve(loc.objectKey, { request: false })),
        };
      } catch (err) {
        return { loc, err };
      }
    }),
  );
  // Rows follow what the providers report (a rehydrated Azure blob has left Archive for good; an
  // object may have been archived outside Coffer). The retrieval stays recorded: retention leaves
  // a copy retrieved within RESTORED_DAYS in its class (lib/retention/apply), and clears it when
  // it moves the copy again.
  for (const { loc, r } of checks) {
    if (!r?.storageClass || r.storageClass === loc.storageClass) continue;
    await d
      .update(backupLocations)
      .set({ storageClass: r.storageClass })
      .where(inTeam(backupLocations, t, eq(backupLocations.id, loc.id), eq(backupLocations.status, "stored")));
    loc.storageClass = r.storageClass;
  }
  const ready = checks.filter((c) => c.r?.state === "ready").map((c) => c.loc);
  if (ready.length) return ready;
  const running = checks.find((c) => c.r?.state === "in-progress");
  if (running) throw inProgress(running.loc, verb);
  if (!request)
    throw new AppError(
      "CONFLICT",
      "Every copy of this backup is in archive storage: it must be retrieved before it can be read, which the provider charges for. Press Download on the backup's page to ask for the retrieval.",
    );

  const order = (l: L) => retrievalHours(l.kind, l.storageClass) ?? Infinity;
  const candidates = checks
    .filter((c) => c.r?.state === "archived")
    .map((c) => c.loc)
    .sort((x, y) => order(x) - order(y) || preference[x.kind]! - preference[y.kind]! || x.name.localeCompare(y.name));
  let lastError: unknown = checks.find((c) => c.err)?.err;
  for (const loc of candidates) {
    let r: Retrieval;
    try {
      r = await withDestination(t, loc.destinationId, (a) => a.retrieve(loc.objectKey, { days: RESTORED_DAYS }));
    } catch (err) {
      log.warn("archive retrieval request failed", { backupId: b.id, destinationId: loc.destinationId, err });
      lastError = err;
      continue;
    }
    if (r.state === "ready") return [loc]; // finished between the two questions
    if (r.state === "in-progress") throw inProgress(loc, verb); // someone else asked in between
    const requestedAt = new Date();
    const readyBy =
      r.readyBy ?? new Date(requestedAt.getTime() + (retrievalHours(loc.kind, loc.storageClass) ?? 12) * HOUR);
    await d.transaction(async (tx) => {
      await tx
        .update(backupLocations)
        .set({ retrievalRequestedAt: requestedAt, retrievalReadyAt: readyBy })
        .where(inTeam(backupLocations, t, eq(backupLocations.id, loc.id)));
      await recordAudit(tx, t, {
        action: "backup.retrieval_requested",
        target: { type: "backup", id: b.id, label: b.fileName },
        details: {
          destinationId: loc.destinationId,
          destination: loc.name,
          storageClass: loc.storageClass,
          readyBy: readyBy.toISOString(),
        },
      });
    });
    throw new AppError(
      "CONFLICT",
      `Every copy of this backup is in archive storage, so Coffer asked "${loc.name}" to restore its copy (${loc.storageClass}). It will be readable in about ${plural(hoursUntil(readyBy))} (by ${utc(readyBy)}): ${verb} again then.`,
    );
  }
  throw (
    lastError ??
    new AppError(
      "CONFLICT",
      "Every copy of this backup is in archive storage and no provider accepted a retrieval request. Try again later.",
    )
  );
}

function inProgress(loc: ArchivedCopy, verb: string): AppError {
  const hours = retrievalHours(loc.kind, loc.storageClass) ?? 12;
  const ours =
    loc.retrievalRequestedAt &&
    loc.retrievalReadyAt &&
    loc.retrievalReadyAt.getTime() + RESTORED_DAYS * 24 * HOUR > Date.now();
  if (!ours) {
    return new AppError(
      "CONFLICT",
      `The archived copy of this backup in "${loc.name}" is already being restored (requested outside Coffer). That takes up to ${plural(hours)}: ${verb} again later.`,
    );
  }
  const requested = `requested ${utc(loc.retrievalRequestedAt!)}`;
  if (loc.retrievalReadyAt!.getTime() > Date.now()) {
    return new AppError(
      "CONFLICT",
      `The archived copy of this backup in "${loc.name}" is being restored (${requested}). It should be readable in about ${plural(hoursUntil(loc.retrievalReadyAt!))} (by ${utc(loc.retrievalReadyAt!)}): ${verb} again then.`,
    );
  }
  return new AppError(
    "CONFLICT",
    `The archived copy of this backup in "${loc.name}" is still being restored (${requested}); the provider expected it by ${utc(loc.retrievalReadyAt!)}. ${verb.charAt(0).toUpperCase()}${verb.slice(1)} again later.`,
  );
}

/**
 * The backup page's view of archived copies: by location id, the retrieval Coffer requested
 * (null when none is current). Copies that read directly are not in the map.
 */
export async function archiveRetrievals(
  t: TeamContext,
  backupId: string,
): Promise<Map<string, { requestedAt: Date; readyBy: Date } | null>> {
  const d = await db();
  const rows = await d
    .select({
      id: backupLocations.id,
      storageClass: backupLocations.storageClass,
      requestedAt: backupLocations.retrievalRequestedAt,
      readyBy: backupLocations.retrievalReadyAt,
    })
    .from(backupLocations)
    .where(inTeam(backupLocations, t, eq(backupLocations.backupId, backupId), eq(backupLocations.status, "stored")));
  const out = new Map<string, { requestedAt: Date; readyBy: Date } | null>();
  for (const r of rows) {
    if (!needsRetrieval(r.storageClass)) continue;
    // Past the time a restored copy stays readable, a recorded request says nothing any more.
    const current = r.requestedAt && r.readyBy && r.readyBy.getTime() + RESTORED_DAYS * 24 * HOUR > Date.now();
    out.set(r.id, current ? { requestedAt: r.requestedAt!, readyBy: r.readyBy! } : null);
  }
  return out;
}

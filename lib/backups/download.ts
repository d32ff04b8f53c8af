import "server-only";
import { PassThrough, type Readable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { and, eq } from "drizzle-orm";
import { backupLocations, backups, storageDestinations } from "@/db/schema";
import { recordAudit } from "../audit/record";
import { holdForReading } from "../retention/apply";
import { createRangeDecryptStream, maxHeaderLength, readHeader, segmentRange } from "../crypto/envelope";
import { db } from "../db";
import { withDestination } from "../destinations/use";
import { AppError, notFound } from "../errors";
import { log } from "../log";
import { RETRIEVAL_HOURS, retrievalHours, type Retrieval, type StorageAdapter, type StorageKind } from "../storage";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import { openDataKey } from "./run";

/** A Range header that cannot be served (HTTP 416). */
export class RangeNotSatisfiable extends AppError {
  constructor(readonly size: number) {
    super("VALIDATION", `The requested range is outside the backup's ${size} bytes.`);
    this.name = "RangeNotSatisfiable";
  }
}

/** One `bytes=` range (inclusive), or null for the whole file. Several ranges are served as the whole file. */
export function parseRange(header: string | null, size: number): { start: number; end: number } | null {
  if (!header) return null;
  if (header.includes(",")) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) throw new RangeNotSatisfiable(size);
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) throw new RangeNotSatisfiable(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || end < start) throw new RangeNotSatisfiable(size);
  return { start, end };
}

/** Classes whose objects cannot be read until the provider restores them (S3 GLACIER / DEEP_ARCHIVE, Azure Archive; GCS ARCHIVE reads directly). */
export const needsRetrieval = (storageClass: string | null) =>
  storageClass !== null && Object.values(RETRIEVAL_HOURS).some((classes) => storageClass in classes);

/** Days an S3 restored copy stays readable; a retrieval older than this (plus its wait) is over. */
const RESTORED_DAYS = 7;

// Faster first: the Coffer host's own disk, then cloud storage, then a server reached over SSH.
const preference: Record<string, number> = { local: 0, s3: 1, gcs: 1, azure: 1, server: 2 };

export interface Download {
  status: 200 | 206;
  headers: Record<string, string>;
  body: Readable;
}

/**
 * The plain `.tar.gz` of a backup (or one byte range of it), decrypted while it streams. Only the
 * segments a range covers are read and decrypted. A segment that fails authentication destroys the
 * stream, so the response is cut short and the browser reports a failed download. Every download
 * is audited. Members and above only: a backup holds the team's data.
 */
export async function openDownload(
  t: TeamContext,
  backupId: string,
  rangeHeader: string | null,
  signal?: AbortSignal,
): Promise<Download> {
  assertRole(t, "member");
  const d = await db();
  const b = await succeededBackup(t, backupId);
  const size = b.encrypted ? b.archiveBytes! : b.sizeBytes!;
  const range = parseRange(rangeHeader, size);
  const length = range ? range.end - range.start + 1 : size;
  // A GET never asks for a (paid) retrieval: that is requestRetrieval's, behind a POST.
  const { body, from } = await openArchive(t, b, { range, signal, requestRetrieval: false });
  await recordAudit(d, t, {
    action: "backup.downloaded",
    target: { type: "backup", id: b.id, label: b.fileName },
    details: { from, ...(range && { range: `${range.start}-${range.end}` }) },
  });
  return {
    status: range ? 206 : 200,
    headers: {
      "Content-Type": "application/gzip",
      "Content-Length": String(length),
      "Content-Disposition": `attachment; filename="${b.fileName}"`,
      "Cache-Control": "private, no-store",
      "Accept-Ranges": "bytes",
      ...(range && { "Content-Range": `bytes ${range.start}-${range.end}/${size}` }),
    },
    body,
  };
}

/**
 * The Download button's POST while every copy is in archive storage: asks one provider for a
 * retrieval (recorded and audited) and says when to come back, says how far a retrieval is, or —
 * once a copy can be read — answers `ready` so the browser starts the download (a GET).
 */
export async function requestRetrieval(t: TeamContext, backupId: string): Promise<{ ready: true }> {
  assertRole(t, "member");
  const b = await succeededBackup(t, backupId);
  const { body } = await openArchive(t, b, { range: { start: 0, end: 0 } });
  body.destroy();
  return { ready: true };
}

export type BackupRow = typeof backups.$inferSelect;

/** A backup of the team that can be read: it succeeded (and has not expired). */
export async function succeededBackup(t: TeamContext, backupId: string): Promise<BackupRow> {
  const d = await db();
  const [b] = await d
    .select()
    .from(backups)
    .where(inTeam(backups, t, eq(backups.id, backupId)));
  if (!b) throw notFound("That backup");
  if (b.status !== "succeeded")
    throw new AppError(
      "CONFLICT",
      `This backup ${b.status === "running" || b.status === "queued" ? "has not finished yet" : `${b.status}; there is nothing to read`}.`,
    );
  return b;
}

/**
 * Opens the plain `.tar.gz` (or one range of it) from the fastest readable copy, falling back to
 * the next, and holds the backup against retention until the stream closes. `from` names the
 * destination read. When every copy is in archive storage, the providers are asked: a copy whose
 * retrieval has finished is read; otherwise one retrieval is requested (or found under way) and a
 * CONFLICT says when to come back (`verb` names what the user does again: "download" by default).
 * With `requestRetrieval: false` no retrieval is asked for: a CONFLICT says how to ask for one.
 * Callers check roles.
 */
export async function openArchive(
  t: TeamContext,
  b: BackupRow,
  opts: {
    range?: { start: number; end: number } | null;
    signal?: AbortSignal;
    verb?: string;
    requestRetrieval?: boolean;
  } = {},
): Promise<{ body: Readable; from: string }> {
  const { range, signal } = opts;
  const d = await db();
  const locations = await d
    .select({
      id: backupLocations.id,
      destinationId: backupLocations.destinationId,
      objectKey: backupLocations.objectKey,
      sizeBytes: backupLocations.sizeBytes,
      storageClass: backupLocations.storageClass,
      retrievalRequestedAt: backupLocations.retrievalRequestedAt,
      retrievalReadyAt: backupLocations.retrievalReadyAt,
      kind: storageDestinations.kind,
      name: storageDestinations.name,
    })
    .from(backupLocations)
    .innerJoin(
      storageDestinations,
      and(
        eq(storageDestinations.teamId, backupLocations.teamId),
        eq(storageDestinations.id, backupLocations.destinationId),
      ),
    )
    .where(inTeam(backupLocations, t, eq(backupLocations.backupId, b.id), eq(backupLocations.status, "stored")));
  if (!locations.length) throw new AppError("NOT_FOUND", "No stored copy of this backup is left.");
  const verb = opts.verb ?? "download";
  const request = opts.requestRetrieval ?? true;
  const archived = locations.filter((l) => needsRetrieval(l.storageClass));
  const size = b.encrypted ? b.archiveBytes! : b.sizeBytes!;
  let lastError: unknown;
  const refused: typeof locations = [];
  const streamFirst = async (copies: typeof locations) => {
    copies.sort((x, y) => preference[x.kind]! - preference[y.kind]!);
    for (const loc of copies) {
      try {
        const body = await streamFrom(t, loc, (adapter) =>
          b.encrypted
            ? decrypted(t, b, adapter, loc, range ?? { start: 0, end: size - 1 }, signal)
            : adapter.get(loc.objectKey, { range: range ?? undefined, signal }),
        );
        await keepReading(t, b.id, body).catch((err: unknown) => {
          body.destroy();
          throw err;
        });
        return { body, from: loc.name };
      } catch (err) {
        // Storage adapters answer CONFLICT only for an object in archive storage.
        if (err instanceof AppError && err.code === "CONFLICT") refused.push(loc);
        lastError = err;
      }
    }
    return undefined;
  };
  const readable = locations.filter((l) => !needsRetrieval(l.storageClass));
  const opened = await streamFirst(readable.length ? readable : await retrievedCopies(t, b, locations, verb, request));
  if (opened) return opened;
  // Archived behind Coffer's back (a bucket lifecycle rule, a change in the provider's console): the provider's word counts.
  if (refused.length && readable.length) {
    const again = await streamFirst(await retrievedCopies(t, b, [...refused, ...archived], verb, request));
    if (again) return again;
  }
  throw lastError;
}

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
 * No copy can be read as it is: their rows say archive storage, or their providers refused to read
 * them. Asks each provider whether a retrieval has finished (those copies are returned, to be
 * read) or is under way (CONFLICT: when it should be ready). With neither, asks one provider for a
 * retrieval — the quickest class first, the next only if a provider fails — records and audits
 * the request, and throws a CONFLICT saying where and when; or, without `request`, a CONFLICT
 * saying how to ask for one.
 */
async function retrievedCopies<L extends ArchivedCopy>(
  t: TeamContext,
  b: BackupRow,
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
  // object may have been archived outside Coffer); a copy that left archive storage has no retrieval any more.
  for (const { loc, r } of checks) {
    if (!r?.storageClass || r.storageClass === loc.storageClass) continue;
    const leftArchive = !needsRetrieval(r.storageClass);
    await d
      .update(backupLocations)
      .set({ storageClass: r.storageClass, ...(leftArchive && { retrievalRequestedAt: null, retrievalReadyAt: null }) })
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

const LEASE_MS = 10 * 60_000;

/** Retention leaves a backup alone while it streams: a lease renewed until the stream closes. */
async function keepReading(t: TeamContext, backupId: string, stream: Readable) {
  await holdForReading(t, backupId, LEASE_MS);
  const timer = setInterval(() => void holdForReading(t, backupId, LEASE_MS).catch(() => {}), LEASE_MS / 2);
  stream.once("close", () => clearInterval(timer));
}

/**
 * Opens a destination and resolves with the stream `open` returns; the destination (and its
 * server connection, for a server directory) stays open until that stream has ended or failed.
 */
function streamFrom(
  t: TeamContext,
  loc: { destinationId: string },
  open: (adapter: StorageAdapter) => Promise<Readable>,
): Promise<Readable> {
  return new Promise((resolve, reject) => {
    withDestination(t, loc.destinationId, async (adapter) => {
      const stream = await open(adapter);
      resolve(stream);
      await finished(stream).catch(() => {});
    }).catch(reject);
  });
}

async function decrypted(
  t: TeamContext,
  b: { id: string; dekWrapped: string | null; dekKeyId: string | null },
  adapter: StorageAdapter,
  loc: { objectKey: string; sizeBytes: number | null },
  range: { start: number; end: number },
  signal?: AbortSignal,
): Promise<Readable> {
  const objectSize = loc.sizeBytes!;
  const chunks: Buffer[] = [];
  for await (const c of await adapter.get(loc.objectKey, {
    range: { start: 0, end: Math.min(maxHeaderLength, objectSize) - 1 },
    signal,
  }))
    chunks.push(c as Buffer);
  const header = readHeader(Buffer.concat(chunks));
  if (header.teamId !== t.id || header.backupId !== b.id)
    throw new AppError(
      "INTERNAL",
      "The stored object belongs to another backup: it was moved or replaced. Download another copy.",
    );
  const dek = openDataKey(t, b);
  const r = segmentRange(range, header.headerLength, header.segmentSize, objectSize);
  const source = await adapter.get(loc.objectKey, { range: { start: r.objectStart, end: r.objectEnd }, signal });
  const out = new PassThrough();
  pipeline(
    source,
    createRangeDecryptStream({
      dek,
      header,
      firstSegment: r.firstSegment,
      lastSegmentIndex: r.lastSegmentIndex,
      skip: r.skip,
      length: r.length,
    }),
    out,
  ).catch((err: unknown) => {
    // The reader stopped early (a restore found its member, a browser went away): nothing failed.
    if (signal?.aborted || (out.destroyed && out.errored !== err)) return;
    log.error("reading the stored object failed (decryption, or the storage connection)", {
      backupId: b.id,
      objectKey: loc.objectKey,
      err,
    });
    out.destroy(err instanceof Error ? err : new Error(String(err)));
  });
  dek.fill(0);
  return out;
}

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
import type { StorageAdapter } from "../storage";
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

/** Classes whose objects cannot be read until the provider restores them (GCS ARCHIVE reads directly). */
export const needsRetrieval = (storageClass: string | null) => storageClass === "GLACIER" || storageClass === "DEEP_ARCHIVE" || storageClass === "Archive";

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
export async function openDownload(t: TeamContext, backupId: string, rangeHeader: string | null, signal?: AbortSignal): Promise<Download> {
  assertRole(t, "member");
  const d = await db();
  const b = await succeededBackup(t, backupId);
  const size = b.encrypted ? b.archiveBytes! : b.sizeBytes!;
  const range = parseRange(rangeHeader, size);
  const length = range ? range.end - range.start + 1 : size;
  const { body, from } = await openArchive(t, b, { range, signal });
  await recordAudit(d, t, { action: "backup.downloaded", target: { type: "backup", id: b.id, label: b.fileName }, details: { from, ...(range && { range: `${range.start}-${range.end}` }) } });
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

export type BackupRow = typeof backups.$inferSelect;

/** A backup of the team that can be read: it succeeded (and has not expired). */
export async function succeededBackup(t: TeamContext, backupId: string): Promise<BackupRow> {
  const d = await db();
  const [b] = await d.select().from(backups).where(inTeam(backups, t, eq(backups.id, backupId)));
  if (!b) throw notFound("That backup");
  if (b.status !== "succeeded") throw new AppError("CONFLICT", `This backup ${b.status === "running" || b.status === "queued" ? "has not finished yet" : `${b.status}; there is nothing to read`}.`);
  return b;
}

/**
 * Opens the plain `.tar.gz` (or one range of it) from the fastest readable copy, falling back to
 * the next, and holds the backup against retention until the stream closes. `from` names the
 * destination read. Callers check roles.
 */
export async function openArchive(t: TeamContext, b: BackupRow, opts: { range?: { start: number; end: number } | null; signal?: AbortSignal } = {}): Promise<{ body: Readable; from: string }> {
  const { range, signal } = opts;
  const d = await db();
  const locations = await d
    .select({
      destinationId: backupLocations.destinationId,
      objectKey: backupLocations.objectKey,
      sizeBytes: backupLocations.sizeBytes,
      storageClass: backupLocations.storageClass,
      kind: storageDestinations.kind,
      name: storageDestinations.name,
    })
    .from(backupLocations)
    .innerJoin(storageDestinations, and(eq(storageDestinations.teamId, backupLocations.teamId), eq(storageDestinations.id, backupLocations.destinationId)))
    .where(inTeam(backupLocations, t, eq(backupLocations.backupId, b.id), eq(backupLocations.status, "stored")));
  if (!locations.length) throw new AppError("NOT_FOUND", "No stored copy of this backup is left.");
  const readable = locations.filter((l) => !needsRetrieval(l.storageClass));
  if (!readable.length) {
    const where = locations
      .map((l) => `${l.name} (${l.storageClass})`)
      .sort()
      .join(", ");
    throw new AppError(
      "CONFLICT",
      `Every copy of this backup is in archive storage: ${where}. The provider must restore it before it can be read (S3: "Initiate restore"; Azure: rehydrate to Hot or Cool); that takes hours. Coffer does not request it yet: do it in the provider's console, then download again.`,
    );
  }
  readable.sort((x, y) => preference[x.kind]! - preference[y.kind]!);
  const size = b.encrypted ? b.archiveBytes! : b.sizeBytes!;
  let lastError: unknown;
  for (const loc of readable) {
    try {
      const body = await streamFrom(t, loc, (adapter) => (b.encrypted ? decrypted(t, b, adapter, loc, range ?? { start: 0, end: size - 1 }, signal) : adapter.get(loc.objectKey, { range: range ?? undefined, signal })));
      await keepReading(t, b.id, body);
      return { body, from: loc.name };
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
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
function streamFrom(t: TeamContext, loc: { destinationId: string }, open: (adapter: StorageAdapter) => Promise<Readable>): Promise<Readable> {
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
  for await (const c of await adapter.get(loc.objectKey, { range: { start: 0, end: Math.min(maxHeaderLength, objectSize) - 1 }, signal })) chunks.push(c as Buffer);
  const header = readHeader(Buffer.concat(chunks));
  if (header.teamId !== t.id || header.backupId !== b.id) throw new AppError("INTERNAL", "The stored object belongs to another backup: it was moved or replaced. Download another copy.");
  const dek = openDataKey(t, b);
  const r = segmentRange(range, header.headerLength, header.segmentSize, objectSize);
  const source = await adapter.get(loc.objectKey, { range: { start: r.objectStart, end: r.objectEnd }, signal });
  const out = new PassThrough();
  pipeline(source, createRangeDecryptStream({ dek, header, firstSegment: r.firstSegment, lastSegmentIndex: r.lastSegmentIndex, skip: r.skip, length: r.length }), out).catch((err: unknown) => {
    if (!signal?.aborted) log.error("download aborted: the stored object failed to decrypt", { backupId: b.id, objectKey: loc.objectKey, err });
    out.destroy(err instanceof Error ? err : new Error(String(err)));
  });
  dek.fill(0);
  return out;
}

import "server-only";
import { createHash } from "node:crypto";
import { Transform, type Readable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { and, eq } from "drizzle-orm";
import { backupLocations, backups, storageDestinations } from "@/db/schema";
import { createRangeDecryptStream, maxHeaderLength, readHeader, segmentRange } from "../crypto/envelope";
import { db } from "../db";
import { withDestination } from "../destinations/use";
import { AppError, asAppError, notFound } from "../errors";
import { formatCount } from "../format";
import { log } from "../log";
import { holdForReading } from "../retention/apply";
import type { StorageAdapter } from "../storage";
import { inTeam, type TeamContext } from "../teams/context";
import { openStoredDataKey } from "../crypto/data-key";
import { verifiedOpenPgpPlaintext } from "../openpgp/verified";
import { needsRetrieval, preference, retrievedCopies } from "./retrieval";

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
 * Opens the plain `.tar.gz` (or one range of it) from the fastest readable copy (`from` names it,
 * `copy` is its location, `others` counts the other stored copies not in `skip`), held
 * against retention until the stream closes. Copies in archive storage go through
 * `retrievedCopies` (`verb` says what the user does again: "download" by default); with
 * `requestRetrieval: false` none is asked for, and a CONFLICT says how to ask. Copies in `skip`
 * (found damaged) are not read. Callers check roles.
 */
export async function openArchive(
  t: TeamContext,
  b: BackupRow,
  opts: {
    range?: { start: number; end: number } | null;
    signal?: AbortSignal;
    verb?: string;
    requestRetrieval?: boolean;
    /** The stored object as it is (an OpenPGP backup's `.gpg`), not decrypted. */
    raw?: boolean;
    /** False for a read that ends at once (a HEAD's first byte): no lease keeps retention away after it. */
    hold?: boolean;
    skip?: ReadonlySet<string>;
  } = {},
): Promise<{ body: Readable; from: string; copy: string; others: number }> {
  const { range, signal } = opts;
  const d = await db();
  const locations = await d
    .select({
      id: backupLocations.id,
      destinationId: backupLocations.destinationId,
      objectKey: backupLocations.objectKey,
      sizeBytes: backupLocations.sizeBytes,
      sha256: backupLocations.sha256,
      storageClass: backupLocations.storageClass,
      damage: backupLocations.damage,
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
    .where(inTeam(backupLocations, t, eq(backupLocations.backupId, b.id), eq(backupLocations.status, "stored")))
    .then((all) => all.filter((l) => !opts.skip?.has(l.id)));
  if (!locations.length) throw new AppError("NOT_FOUND", "No stored copy of this backup is left.");
  const verb = opts.verb ?? "download";
  const request = opts.requestRetrieval ?? true;
  const archived = locations.filter((l) => needsRetrieval(l.storageClass));
  const size = b.encrypted ? b.archiveBytes! : b.sizeBytes!;
  let lastError: unknown;
  const refused: typeof locations = [];
  const streamFirst = async (copies: typeof locations) => {
    // A copy a read found damaged comes last: the next download or restore reads an intact one.
    copies.sort((x, y) => Number(!!x.damage) - Number(!!y.damage) || preference[x.kind]! - preference[y.kind]!);
    for (const loc of copies) {
      try {
        const body = await streamFrom(t, loc, (adapter) =>
          !b.encrypted || opts.raw
            ? asStored(b, adapter, loc, range ?? null, signal)
            : b.encryption === "openpgp"
              ? openPgpDecrypted(t, b, adapter, loc, range ?? { start: 0, end: size - 1 }, signal)
              : decrypted(t, b, adapter, loc, range ?? { start: 0, end: size - 1 }, signal),
        );
        // Before any wait: a small copy can fail its checks at once.
        body.once("error", (err) => {
          if (damagedCopy(err)) void recordDamage(t, loc.id, (err as Error).message);
        });
        // A whole read that passes every check shows the copy intact again (it was put back).
        if (loc.damage && !range) body.once("end", () => void recordDamage(t, loc.id, null));
        if (opts.hold !== false)
          await keepReading(t, b.id, body).catch((err: unknown) => {
            body.destroy();
            throw err;
          });
        return { body, from: loc.name, copy: loc.id, others: locations.length - 1 };
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

/** Whether `err` says the stored copy itself is damaged (failed authentication, another SHA-256 or length). */
export function damagedCopy(err: unknown): boolean {
  const app = asAppError(err);
  return app?.code === "INTERNAL" && /^The backup object/.test(app.message);
}

/** Records on the copy what a read found, or that it passed (null); its backup's page shows it, and damaged copies are read last. */
async function recordDamage(t: TeamContext, locationId: string, message: string | null) {
  try {
    const d = await db();
    await d
      .update(backupLocations)
      .set({ damage: message })
      .where(inTeam(backupLocations, t, eq(backupLocations.id, locationId), eq(backupLocations.status, "stored")));
  } catch (err) {
    log.warn("could not record a damaged copy", { locationId, err });
  }
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

/**
 * The stored object as it is (an unencrypted backup, an OpenPGP backup's `.gpg`), checked as it
 * streams against what was recorded when it was stored: a whole read against the copy's size and
 * SHA-256, a range against its length. The last chunk is held back until the check passed, so a
 * copy altered, replaced or cut short ends in an error, never in a file that looks complete.
 */
async function asStored(
  b: { id: string },
  adapter: StorageAdapter,
  loc: { objectKey: string; sizeBytes: number | null; sha256: string | null; name: string },
  range: { start: number; end: number } | null,
  signal?: AbortSignal,
): Promise<Readable> {
  const source = await adapter.get(loc.objectKey, { range: range ?? undefined, signal });
  const bytes = range ? range.end - range.start + 1 : loc.sizeBytes;
  const hash = !range && loc.sha256 ? createHash("sha256") : null;
  let seen = 0;
  let held: Buffer | null = null;
  const damaged = (what: string) =>
    new AppError(
      "INTERNAL",
      `The backup object in "${loc.name}" is not what was stored: ${what} (it was altered, damaged or replaced).`,
    );
  const checked = new Transform({
    transform(chunk: Buffer, _encoding, cb) {
      seen += chunk.length;
      hash?.update(chunk);
      if (held) this.push(held);
      held = chunk;
      cb(bytes !== null && seen > bytes ? damaged(`it holds more than ${formatCount(bytes, "byte")}`) : null);
    },
    flush(cb) {
      if (bytes !== null && seen !== bytes)
        return cb(damaged(`it ends after ${formatCount(seen, "byte")} of ${formatCount(bytes, "byte")}`));
      if (hash && hash.digest("hex") !== loc.sha256) return cb(damaged("its SHA-256 differs from the one recorded"));
      if (held) this.push(held);
      cb();
    },
  });
  return piped(source, checked, { backupId: b.id, objectKey: loc.objectKey }, signal);
}

/**
 * `source` through `stage`, which is returned: whatever fails (the storage read, a check, a
 * segment's authentication) destroys `stage` with that error, which is logged.
 */
function piped(
  source: Readable,
  stage: Transform,
  what: { backupId: string; objectKey: string },
  signal?: AbortSignal,
): Transform {
  pipeline(source, stage).catch((err: unknown) => {
    // The reader stopped early (a restore found its member, a browser went away): nothing failed.
    if (signal?.aborted || stage.errored !== err) return;
    log.error("reading a stored object failed (the storage connection, a check or decryption)", { ...what, err });
  });
  return stage;
}

/** An OpenPGP backup: opened with its session key (its row's data key), released once verified whole. */
async function openPgpDecrypted(
  t: TeamContext,
  b: BackupRow,
  adapter: StorageAdapter,
  loc: { objectKey: string },
  range: { start: number; end: number },
  signal?: AbortSignal,
): Promise<Readable> {
  const sessionKey = openStoredDataKey(t.id, b);
  try {
    const source = await adapter.get(loc.objectKey, { signal });
    return await verifiedOpenPgpPlaintext(source, sessionKey, { size: b.archiveBytes!, range, signal });
  } catch (err) {
    if (!signal?.aborted)
      log.error("an OpenPGP backup failed to open", { backupId: b.id, objectKey: loc.objectKey, err });
    throw err;
  } finally {
    sessionKey.fill(0);
  }
}

async function decrypted(
  t: TeamContext,
  b: { id: string; dekWrapped: string | null; dekKeyId: string | null; headerTeamId: string | null },
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
  // A backup taken back in from storage keeps the team id its object was made under (lib/catalogue).
  if (header.teamId !== (b.headerTeamId ?? t.id) || header.backupId !== b.id)
    throw new AppError(
      "INTERNAL",
      "The stored object belongs to another backup: it was moved or replaced. Download another copy.",
    );
  const dek = openStoredDataKey(t.id, b);
  const r = segmentRange(range, header.headerLength, header.segmentSize, objectSize);
  const source = await adapter.get(loc.objectKey, { range: { start: r.objectStart, end: r.objectEnd }, signal });
  const plain = createRangeDecryptStream({
    dek,
    header,
    firstSegment: r.firstSegment,
    lastSegmentIndex: r.lastSegmentIndex,
    skip: r.skip,
    length: r.length,
  });
  dek.fill(0);
  return piped(source, plain, { backupId: b.id, objectKey: loc.objectKey }, signal);
}

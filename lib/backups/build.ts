import "server-only";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { backupLocations, backups, storageDestinations } from "@/db/schema";
import { newBackupDataKey } from "../crypto/data-key";
import { createEncryptStream, type WrappedDek } from "../crypto/envelope";
import { keyring } from "../crypto/master-keys";
import { createOpenPgpEncryptStream } from "../openpgp/message";
import { teamRecipientKeys } from "../openpgp/team-keys";
import { db, type Transaction } from "../db";
import { withLoadedDestination } from "../destinations/use";
import { AppError, asAppError, notFound } from "../errors";
import { formatBytes, formatCount } from "../format";
import { startAttempt, type Attempt } from "../jobs/attempt";
import { claimNew, replaced } from "../jobs/claim";
import { testPauseStream } from "../jobs/test-pause";
import { failureMessage, RunStopped } from "../jobs/failure";
import { hold, type Held } from "../jobs/hold";
import { emit } from "../notifications/emit";
import { assertClaim, ours, runningJob, type RunningJob } from "../jobs/table";
import type { StorageAdapter, StoredObject } from "../storage";
import { inTeam, type TeamContext } from "../teams/context";
import type { CompressionSetting } from "./compression";
import { failRun } from "./fail";
import { fanOut } from "./fanout";
import { backupDestinationIds, backupSourceIds } from "./links";
import { insertBackup, type NewBackup } from "./mutations";
import { roomProblem } from "../storage/room";
import { overQuota, type LocalQuota } from "./quota";

/** The plain `.tar.gz` to store, and what it says about itself once it ended (its manifest, when it has one). */
export interface ProducedArchive {
  stream: Readable;
  done: Promise<Record<string, unknown> | null>;
}

/** Where a backup's archive comes from: a server's sources, an upload, a database about to be replaced. */
export interface ArchiveProducer {
  /** Starts the archive; what it needs (a server connection) stays open until `close`. */
  open(ctx: {
    signal: AbortSignal;
    say: (line: string) => void;
    /** Bytes of the archive made ready before it streams (a server's compressed dumps), for the run's progress. */
    progress: (bytes: number) => void;
  }): Promise<ProducedArchive>;
  close(): Promise<void>;
}

export interface TransferResult {
  sizeBytes: number;
  sha256: string;
  archiveBytes: number;
  locations: number;
}

/** A claimed backup and its destinations (in the order of its `destinationIds`), read once. */
export interface BackupPlan {
  job: RunningJob;
  backup: {
    id: string;
    serverId: string;
    fileName: string;
    encrypted: boolean;
    encryption: "coffer" | "openpgp";
    compression: CompressionSetting;
    sourceIds: string[];
    destinationIds: string[];
  };
  destinations: (typeof storageDestinations.$inferSelect)[];
  /** The size the stored object is expected to have: the last backup of the same sources, when there is one. */
  expectedBytes?: number;
  /**
   * The team's quota on this host's disk, for a run that is held to it as it writes (a server's
   * backup; an upload reserves its room as it starts instead, and a safety backup is not held to
   * it, so that a full quota never stops a restore).
   */
  quota?: LocalQuota | null;
}

/** The backup's data key; for OpenPGP backups it is the message's session key, and `recipients` the team's keys. */
type Sealing = { dek: Buffer; wrapped: WrappedDek; recipients?: string[] };
type Stored = {
  objects: StoredObject[];
  manifest: Record<string, unknown> | null;
  archiveBytes: number;
};

/** Deterministic per backup, so a retried attempt overwrites (never duplicates) its objects. */
function objectKey(b: BackupPlan["backup"]): string {
  const suffix = !b.encrypted ? "" : b.encryption === "openpgp" ? ".gpg" : ".enc";
  return `${b.serverId}/${b.fileName.replace(/\.tar\.gz$/, "")}-${b.id}.tar.gz${suffix}`;
}

/** Loads what a claimed backup writes where; RunStopped unless it still runs under `attempt`. */
export async function loadPlan(t: TeamContext, backupId: string, attempt: number): Promise<BackupPlan> {
  const d = await db();
  const [backup] = await d
    .select({
      id: backups.id,
      serverId: backups.serverId,
      fileName: backups.fileName,
      encrypted: backups.encrypted,
      encryption: backups.encryption,
      compression: backups.compression,
      sourceIds: backupSourceIds,
      destinationIds: backupDestinationIds,
      status: backups.status,
      attempts: backups.attempts,
    })
    .from(backups)
    .where(inTeam(backups, t, eq(backups.id, backupId)));
  if (!backup) throw notFound("That backup");
  assertClaim("backup", backup, attempt);
  const destinations = await d
    .select()
    .from(storageDestinations)
    .where(inTeam(storageDestinations, t, inArray(storageDestinations.id, backup.destinationIds)));
  if (destinations.length !== backup.destinationIds.length)
    throw new AppError("NOT_FOUND", "A destination of this backup was deleted. Start a new backup.");
  const order = new Map(backup.destinationIds.map((id, i) => [id, i]));
  destinations.sort((x, y) => order.get(x.id)! - order.get(y.id)!);
  const expectedBytes = await previousSize(t, backup);
  return { job: runningJob("backup", t, backupId, attempt), backup, destinations, expectedBytes };
}

/** The stored size of the latest finished backup of the same server and sources (none for uploads). */
async function previousSize(
  t: TeamContext,
  b: { id: string; serverId: string; sourceIds: string[] },
): Promise<number | undefined> {
  if (b.sourceIds.length === 0) return undefined;
  const d = await db();
  const ids = sql`array[${sql.join(
    b.sourceIds.map((id) => sql`${id}`),
    sql`, `,
  )}]::text[]`;
  const [prev] = await d
    .select({ size: backups.sizeBytes })
    .from(backups)
    .where(
      inTeam(
        backups,
        t,
        eq(backups.serverId, b.serverId),
        inArray(backups.status, ["succeeded", "expired"]),
        sql`${backupSourceIds} @> ${ids} and ${backupSourceIds} <@ ${ids}`,
      ),
    )
    .orderBy(desc(backups.finishedAt))
    .limit(1);
  return prev?.size ?? undefined;
}

/**
 * Builds a backup from any archive: sealed with a fresh data key when encrypted, written to every
 * destination at once (the slowest sets the pace), each copy's size read back, then marked stored
 * unless someone cancelled it meanwhile. On any failure this attempt's objects are removed (unless
 * a later attempt took the backup over: its objects have the same names) and the error is rethrown.
 */
export async function buildBackup(plan: BackupPlan, producer: ArchiveProducer): Promise<TransferResult> {
  const { job, destinations } = plan;
  const key = objectKey(plan.backup);
  const attempt = startAttempt(job);
  const opened: Held<StorageAdapter>[] = [];
  const written: StorageAdapter[] = [];
  let marked = false;
  try {
    const sealing = plan.backup.encrypted ? await sealWithNewKey(job, plan.backup.encryption) : undefined;
    await recordLocations(plan, key);
    for (const dest of destinations) opened.push(await hold((fn) => withLoadedDestination(job.t, dest, fn)));
    const adapters = opened.map((o) => o.value);
    await checkRoom(plan, adapters, attempt);
    if (job.attempt > 1) await removeEarlierAttempts(plan, key, adapters, attempt);
    const archive = await producer.open({ signal: attempt.signal, say: attempt.say, progress: attempt.progress });
    const stored = await writeEverywhere(plan, key, archive, sealing, adapters, attempt, written);
    await attempt.settle(); // from here on only the guarded UPDATE below decides
    if (!(await markStored(plan, stored)))
      throw new RunStopped("The backup was cancelled or stopped as it finished; its objects were removed.");
    marked = true;
    const first = stored.objects[0]!;
    const n = destinations.length;
    attempt.say(`Succeeded: ${first.size} bytes stored in ${n} location${n > 1 ? "s" : ""}.`);
    await emit(job.t, "backup.succeeded", { backupId: job.id });
    return { sizeBytes: first.size, sha256: first.sha256, archiveBytes: stored.archiveBytes, locations: n };
  } catch (err) {
    // Once marked stored, the objects are the backup: a failure after that (a notification, the
    // log) leaves them be, and a retried step finds the backup stored. The key is the backup's, so
    // after a takeover it holds the later attempt's object (or will): that attempt, or the failure
    // of the run, removes it; and what failed here was the takeover (its start removes what this
    // attempt was writing), whatever error it surfaced as.
    const takenOver = marked ? false : await replaced(job);
    if (!marked && takenOver === false)
      await Promise.all(written.map((adapter) => adapter.delete(key).catch(() => {})));
    throw attempt.failed(takenOver === true ? new RunStopped("A later attempt took over the backup.") : err);
  } finally {
    await Promise.allSettled([producer.close(), ...opened.map((o) => o.release())]);
    await attempt.close();
  }
}

/**
 * A backup that runs at once (an upload, a safety backup): inserted as running (`alongside`
 * writes in the same transaction), built from the archive `produce` makes for it, and marked
 * failed, its objects removed, when that fails.
 */
export async function storeNewBackup(
  t: TeamContext,
  b: NewBackup,
  produce: (backupId: string) => ArchiveProducer,
  alongside?: (tx: Transaction, backupId: string) => Promise<void>,
): Promise<{ id: string } & TransferResult> {
  const d = await db();
  const job = await d.transaction(async (tx) => {
    const row = await insertBackup(tx, t, b);
    await alongside?.(tx, row.id);
    return claimNew(tx, "backup", t, row.id);
  });
  try {
    const plan = await loadPlan(t, job.id, job.attempt);
    return { id: job.id, ...(await buildBackup(plan, produce(job.id))) };
  } catch (err) {
    await failRun(t.id, job.id, failureMessage(err, { backupId: job.id }));
    throw err;
  }
}

/**
 * Before anything is dumped: refuses a backup its destinations cannot take at the expected size
 * (an object above a provider's limit, a full disk, no room for large upload parts on this host).
 * Without an estimate nothing is known yet: parts grow as the upload goes.
 */
async function checkRoom(plan: BackupPlan, adapters: StorageAdapter[], attempt: Attempt) {
  const { destinations, expectedBytes, quota } = plan;
  if (quota && quota.used >= quota.limit) throw overQuota(quota);
  if (!expectedBytes) return;
  if (quota && quota.used + expectedBytes * onThisHost(plan) > quota.limit) throw overQuota(quota);
  attempt.say(`Expecting about ${formatBytes(expectedBytes)}, the size of the last backup of these sources.`);
  const rooms = await Promise.all(
    adapters.map(async (a, i) => ({ name: destinations[i]!.name, room: await a.room(expectedBytes) })),
  );
  const problem = roomProblem(expectedBytes, "the size of the last backup of these sources", rooms);
  if (problem) throw new AppError("VALIDATION", problem);
}

/** How many of the backup's copies go to this host's disk. */
const onThisHost = ({ destinations }: BackupPlan) => destinations.filter((d) => d.kind === "local").length;

/** A retried attempt first removes what earlier attempts' unfinished writes left (they no longer hold the claim). */
async function removeEarlierAttempts(
  { destinations, job }: BackupPlan,
  key: string,
  adapters: StorageAdapter[],
  attempt: Attempt,
) {
  for (const [i, a] of adapters.entries()) {
    const removed = await a.removeLeftovers(key, job.id).catch(() => 0);
    if (removed)
      attempt.say(
        `Removed ${formatCount(removed, "unfinished upload")} of an earlier attempt from ${destinations[i]!.name}.`,
      );
  }
}

async function sealWithNewKey(job: RunningJob, encryption: "coffer" | "openpgp"): Promise<Sealing> {
  // The team's keys as the backup starts: a key removed later stays able to open it.
  const recipients = encryption === "openpgp" ? (await teamRecipientKeys(job.t)).map((k) => k.armored) : undefined;
  const { dek, wrapped, stored } = newBackupDataKey(job.teamId, job.id);
  const d = await db();
  const [row] = await d
    .update(backups)
    .set({ ...stored, headerKeyId: wrapped.keyId })
    .where(ours(job))
    .returning({ id: backups.id });
  if (!row) throw new RunStopped("A later attempt took over the backup.");
  return { dek, wrapped, recipients };
}

async function recordLocations({ job, destinations }: BackupPlan, key: string) {
  const d = await db();
  for (const dest of destinations) {
    await d
      .insert(backupLocations)
      .values({
        teamId: job.teamId,
        backupId: job.id,
        destinationId: dest.id,
        objectKey: key,
        storageClass: dest.classDaily,
      })
      .onConflictDoUpdate({
        target: [backupLocations.backupId, backupLocations.destinationId],
        set: { status: "writing", objectKey: key, error: null, sizeBytes: null, sha256: null },
      });
  }
}

/**
 * Streams the archive (sealed, when `sealing`) to every destination in one pass, then reads back
 * what each holds. `written` collects the adapters this attempt wrote an object to.
 */
async function writeEverywhere(
  plan: BackupPlan,
  key: string,
  archive: ProducedArchive,
  sealing: Sealing | undefined,
  adapters: StorageAdapter[],
  attempt: Attempt,
  written: StorageAdapter[],
): Promise<Stored> {
  const { job, destinations, expectedBytes } = plan;
  // Counted, not hashed: the stored object's SHA-256 is what the adapters record.
  let archiveBytes = 0;
  const plain = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      archiveBytes += chunk.length;
      callback(null, chunk);
    },
  });
  const seal = sealing && (await sealStream(sealing, job));
  // Held to the team's quota on this host's disk as it writes: an estimate may be far off.
  const { quota } = plan;
  const copiesHere = onThisHost(plan);
  const overQuotaSignal = new AbortController();
  const onBytes = (bytes: number) => {
    attempt.progress(bytes);
    if (quota && copiesHere && quota.used + bytes * copiesHere > quota.limit && !overQuotaSignal.signal.aborted)
      overQuotaSignal.abort(overQuota(quota, bytes, "backup"));
  };
  // pipeline() carries a failure of the source into the body, so every destination stops.
  const gate = testPauseStream();
  pipeline([archive.stream, ...(gate ? [gate] : []), plain, ...(seal ? [seal] : [])]).catch(() => {});
  attempt.say(`Writing to ${destinations.map((x) => x.name).join(", ")}.`);
  const [fan, manifest] = await Promise.allSettled([
    fanOut(
      seal ?? plain,
      adapters.map((a, i) => ({
        write: (pipe, signal) =>
          a.put(key, pipe, {
            storageClass: destinations[i]!.classDaily ?? undefined,
            signal,
            sizeHint: expectedBytes,
            runId: job.id,
          }),
      })),
      { signal: AbortSignal.any([attempt.signal, overQuotaSignal.signal]), onBytes },
    ),
    archive.done,
  ]);
  const results = fan.status === "fulfilled" ? fan.value.results : [];
  results.forEach((r, i) => r.status === "fulfilled" && written.push(adapters[i]!));
  const failure =
    manifest.status === "rejected" ? manifest.reason : fan.status === "rejected" ? fan.reason : fan.value.error;
  if (failure || manifest.status === "rejected") {
    const where = fan.status === "fulfilled" ? fan.value.failedTarget : undefined;
    if (where !== undefined)
      await emit(job.t, "destination.failing", {
        backupId: job.id,
        destinationId: destinations[where]!.id,
        error: failure,
      });
    throw where === undefined ? failure : withDestinationName(failure, destinations[where]!.name);
  }
  const objects = results.map((r) => (r as PromiseFulfilledResult<StoredObject>).value);
  for (const [i, o] of objects.entries()) {
    if (o.parts)
      attempt.say(
        `${destinations[i]!.name}: ${o.parts.length} parts of ${formatBytes(o.parts.reduce((m, n) => Math.min(m, n)))} to ${formatBytes(o.parts.reduce((m, n) => Math.max(m, n)))}.`,
      );
  }
  // A backup is only good when every copy is there in full.
  for (const [i, adapter] of adapters.entries()) {
    const info = await adapter.head(key);
    if (!info || info.size !== objects[i]!.size)
      throw new AppError(
        "UPSTREAM",
        `${destinations[i]!.name} does not hold the complete object after writing it (${info ? `${info.size} of ${objects[i]!.size} bytes` : "it is missing"}). Check the destination with Test.`,
      );
  }
  return { objects, manifest: manifest.value, archiveBytes };
}

async function sealStream({ dek, wrapped, recipients }: Sealing, job: RunningJob) {
  if (!recipients) return createEncryptStream({ dek, wrapped, teamId: job.teamId, backupId: job.id });
  try {
    return await createOpenPgpEncryptStream({
      sessionKey: dek,
      recipients,
      master: keyring().byId.get(wrapped.keyId)!,
    });
  } finally {
    dek.fill(0);
  }
}

function withDestinationName(err: unknown, name: string): unknown {
  const app = asAppError(err);
  return app ? new AppError(app.code, `${name}: ${app.message}`) : err;
}

/** Marks every copy and the backup stored, if it still runs under this claim and nobody asked to cancel it. */
async function markStored({ job, destinations }: BackupPlan, stored: Stored): Promise<boolean> {
  const d = await db();
  const first = stored.objects[0]!;
  return d
    .transaction(async (tx) => {
      for (const [i, dest] of destinations.entries()) {
        await tx
          .update(backupLocations)
          .set({ status: "stored", sizeBytes: stored.objects[i]!.size, sha256: stored.objects[i]!.sha256 })
          .where(
            inTeam(
              backupLocations,
              job.t,
              eq(backupLocations.backupId, job.id),
              eq(backupLocations.destinationId, dest.id),
            ),
          );
      }
      const [row] = await tx
        .update(backups)
        .set({
          status: "succeeded",
          finishedAt: new Date(),
          sizeBytes: first.size,
          sha256: first.sha256,
          bytesDone: first.size,
          archiveBytes: stored.archiveBytes,
          manifest: stored.manifest,
        })
        .where(ours(job, isNull(backups.cancelRequestedAt)))
        .returning({ id: backups.id });
      if (!row) tx.rollback();
      return true;
    })
    .catch((err: unknown) => {
      if ((err as Error)?.name === "TransactionRollbackError") return false;
      throw err;
    });
}

import "server-only";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { and, eq, inArray, isNull, lt, ne, or, sql } from "drizzle-orm";
import { backupLocations, backupLogs, backups, servers, sources, storageDestinations } from "@/db/schema";
import { createEncryptStream, newDataKey, unwrapDek, wrapDek, type WrappedDek } from "../crypto/envelope";
import { keyring } from "../crypto/master-keys";
import { db } from "../db";
import { withDestination } from "../destinations/use";
import { env } from "../env";
import { AppError, asAppError, notFound } from "../errors";
import { log } from "../log";
import { resolveAllowedAddress } from "../net/address-guard";
import { emit } from "../notifications/emit";
import { sourceConnection } from "../servers/checks";
import { withServer } from "../servers/connect";
import type { StorageAdapter } from "../storage";
import { Sha256Meter } from "../storage/common";
import { systemTeam, inTeam, type TeamContext } from "../teams/context";
import { startArchive, type ArchiveSource, type PostgresArchiveSource } from "./archive";
import { fanOut } from "./fanout";
import { COFFER_VERSION } from "./version";

/** How often a running backup records its progress (and reads a cancel request). */
export const PROGRESS_INTERVAL_MS = 1_000;
/** A running backup whose progress is older than this belongs to a process that is gone. */
export const STALE_AFTER_MS = 60_000;

/** Cancelling a run (by a user, or because the sweeper already failed it) is final: no retry. */
export class RunStopped extends AppError {
  constructor(message: string) {
    super("CONFLICT", message);
    this.name = "RunStopped";
  }
}

/** The message a user sees for a failure: an AppError's own, otherwise a generic one (details go to the log). */
export function failureMessage(err: unknown, context: Record<string, unknown>): string {
  const app = asAppError(err);
  if (app) return app.message;
  log.error("backup failed", { ...context, err });
  return "The backup failed with an unexpected error (details are in Coffer's server log). Try again; if it keeps failing, check the server and destinations with Test.";
}

/** Appends to the run log; lines are written in order without holding up the stream. */
function runLog(teamId: string, backupId: string) {
  let chain = Promise.resolve();
  const write = (level: "info" | "error", message: string) => {
    chain = chain
      .then(async () => {
        const d = await db();
        await d.insert(backupLogs).values({ teamId, backupId, level, message: message.slice(0, 2000) });
      })
      .catch((err: unknown) => log.warn("run log write failed", { backupId, err }));
  };
  return { info: (m: string) => write("info", m), error: (m: string) => write("error", m), flush: () => chain };
}

export async function appendRunLog(teamId: string, backupId: string, level: "info" | "error", message: string) {
  const d = await db();
  await d.insert(backupLogs).values({ teamId, backupId, level, message: message.slice(0, 2000) });
}

/** Deterministic per backup, so a retried attempt overwrites (never duplicates) its objects. */
export function objectKey(b: { serverId: string; id: string; fileName: string; encrypted: boolean }): string {
  return `${b.serverId}/${b.fileName.replace(/\.tar\.gz$/, "")}-${b.id}.tar.gz${b.encrypted ? ".enc" : ""}`;
}

/**
 * Starts (or, on a retry, restarts) a queued or running backup. Returns false when there is
 * nothing to do: the backup finished, was cancelled, or does not exist (idempotent on the id).
 */
export async function claimRun(teamId: string, backupId: string): Promise<boolean> {
  const d = await db();
  const now = new Date();
  const [row] = await d
    .update(backups)
    .set({
      status: "running",
      startedAt: sql`coalesce(${backups.startedAt}, now())`,
      heartbeatAt: now,
      attempts: sql`${backups.attempts} + 1`,
      error: null,
    })
    .where(
      and(
        eq(backups.teamId, teamId),
        eq(backups.id, backupId),
        inArray(backups.status, ["queued", "running"]),
        isNull(backups.cancelRequestedAt),
      ),
    )
    .returning({ attempts: backups.attempts });
  if (!row) return false;
  await appendRunLog(teamId, backupId, "info", row.attempts > 1 ? `Attempt ${row.attempts} started.` : "Started.");
  return true;
}

/** Opens every destination's adapter at once (each with its own connection) around `fn`. */
async function withDestinations<T>(
  t: TeamContext,
  ids: string[],
  fn: (adapters: StorageAdapter[]) => Promise<T>,
  opened: StorageAdapter[] = [],
): Promise<T> {
  if (opened.length === ids.length) return fn(opened);
  return withDestination(t, ids[opened.length]!, (adapter) => withDestinations(t, ids, fn, [...opened, adapter]));
}

export interface RunRow {
  id: string;
  serverId: string;
  fileName: string;
  encrypted: boolean;
  sourceIds: string[];
  destinationIds: string[];
}

async function loadRun(t: TeamContext, backupId: string) {
  const d = await db();
  const [b] = await d
    .select({
      id: backups.id,
      serverId: backups.serverId,
      fileName: backups.fileName,
      encrypted: backups.encrypted,
      sourceIds: backups.sourceIds,
      destinationIds: backups.destinationIds,
      status: backups.status,
    })
    .from(backups)
    .where(inTeam(backups, t, eq(backups.id, backupId)));
  if (!b) throw notFound("That backup");
  if (b.status !== "running") throw new RunStopped(`The backup is ${b.status}; it is not run again.`);
  const [server] = await d
    .select({ name: servers.name, kind: servers.kind, workDir: servers.workDir })
    .from(servers)
    .where(inTeam(servers, t, eq(servers.id, b.serverId)));
  if (!server) throw notFound("The backup's server");
  const srcs = await d
    .select()
    .from(sources)
    .where(inTeam(sources, t, inArray(sources.id, b.sourceIds)));
  if (srcs.length !== b.sourceIds.length)
    throw new AppError("NOT_FOUND", "A source of this backup was deleted. Start a new backup.");
  return { backup: b as RunRow, server, sources: srcs };
}

/** A backup's destinations, in the order of its `destinationIds`. */
async function destinationsOf(t: TeamContext, ids: string[]) {
  const d = await db();
  const dests = await d
    .select({ id: storageDestinations.id, name: storageDestinations.name, classDaily: storageDestinations.classDaily })
    .from(storageDestinations)
    .where(inTeam(storageDestinations, t, inArray(storageDestinations.id, ids)));
  if (dests.length !== ids.length)
    throw new AppError("NOT_FOUND", "A destination of this backup was deleted. Start a new backup.");
  const order = new Map(ids.map((id, i) => [id, i]));
  return dests.sort((x, y) => order.get(x.id)! - order.get(y.id)!);
}

async function archiveSources(
  t: TeamContext,
  serverKind: "ssh" | "local",
  rows: (typeof sources.$inferSelect)[],
): Promise<ArchiveSource[]> {
  return Promise.all(
    rows.map((s): Promise<ArchiveSource> | ArchiveSource =>
      s.kind === "directory"
        ? { kind: "directory", id: s.id, name: s.name, paths: s.paths ?? [], excludes: s.excludes ?? [] }
        : postgresSource(t, serverKind, s),
    ),
  );
}

/** A database source's connection, as a server reaches it. On the Coffer host itself the database host is one Coffer connects to: the checked address is pinned. */
export async function postgresSource(
  t: TeamContext,
  serverKind: "ssh" | "local",
  s: typeof sources.$inferSelect,
): Promise<PostgresArchiveSource> {
  const c = sourceConnection(t, s);
  const hostaddr =
    serverKind === "local"
      ? (await resolveAllowedAddress(c.host, { allowPrivate: env().allowPrivateNetworks })).address
      : undefined;
  return { kind: "postgres", id: s.id, name: s.name, ...c, hostaddr };
}

/** What a running row says on each progress update: who asked to cancel it, or undefined once it stopped running. */
type CancelState = { cancelAt: Date | null; cancelBy: string | null } | undefined;

/**
 * Watches running work: `record` writes the bytes so far and a heartbeat every second, and the work
 * is aborted when someone asked to cancel it or its row stopped being "running" (the sweeper failed it).
 */
export function watchProgress(
  what: string,
  id: string,
  record: (bytes: number) => Promise<CancelState>,
  abort: AbortController,
) {
  let bytes = 0;
  let inFlight: Promise<void> | undefined;
  const update = async () => {
    try {
      const row = await record(bytes);
      if (!row)
        abort.abort(
          new RunStopped(`The ${what} was stopped: it was marked as failed while running (its progress had stalled).`),
        );
      else if (row.cancelAt) abort.abort(new RunStopped(`Cancelled by ${row.cancelBy ?? "a team member"}.`));
    } catch (err) {
      log.warn("progress update failed", { id, err });
    }
  };
  const timer = setInterval(() => {
    inFlight ??= update().finally(() => (inFlight = undefined));
  }, PROGRESS_INTERVAL_MS);
  return {
    set: (n: number) => (bytes = n),
    /** Stops watching (waiting for an update in flight), so nothing aborts the work after it ended. */
    stop: async () => {
      clearInterval(timer);
      await inFlight;
    },
  };
}

function watchRun(t: TeamContext, backupId: string, abort: AbortController) {
  return watchProgress(
    "run",
    backupId,
    async (bytes) => {
      const d = await db();
      const [row] = await d
        .update(backups)
        .set({ bytesDone: bytes, heartbeatAt: new Date() })
        .where(inTeam(backups, t, eq(backups.id, backupId), eq(backups.status, "running")))
        .returning({ cancelBy: backups.cancelRequestedBy, cancelAt: backups.cancelRequestedAt });
      return row;
    },
    abort,
  );
}

export interface TransferResult {
  sizeBytes: number;
  sha256: string;
  archiveBytes: number;
  locations: number;
}

/** The plain `.tar.gz` to store, and what it says about itself once it ended (the manifest, when there is one). */
export interface Produced {
  stream: Readable;
  done: Promise<Record<string, unknown> | null>;
}
/** Starts the stream and hands it to `consume`, keeping what it needs (a server connection) open meanwhile. */
export type Produce = <R>(
  ctx: { signal: AbortSignal; say: (line: string) => void },
  consume: (produced: Produced) => Promise<R>,
) => Promise<R>;

/**
 * A backup run, in one pass: the archive streams from the server, is sealed with a fresh data key
 * when encrypted, and is written to every destination at once.
 */
export async function transferBackup(teamId: string, backupId: string): Promise<TransferResult> {
  const t = await systemTeam(teamId, "backup run");
  const { backup, server, sources: srcRows } = await loadRun(t, backupId);
  const archiveSrcs = await archiveSources(t, server.kind, srcRows);
  return storeBackup(t, backup, (ctx, consume) =>
    withServer(
      t,
      backup.serverId,
      async (reach) => {
        const archive = await startArchive({
          reach,
          workDir: server.workDir,
          serverName: server.name,
          backupId,
          sources: archiveSrcs,
          cofferVersion: COFFER_VERSION,
          signal: ctx.signal,
          onStep: ctx.say,
        });
        return consume({ stream: archive.stream, done: archive.done as unknown as Promise<Record<string, unknown>> });
      },
      { signal: ctx.signal },
    ),
  );
}

/**
 * Stores a running backup's stream: sealed with a fresh data key when encrypted, written to every
 * destination at once (the slowest sets the pace). The backup is marked succeeded only after every
 * object was written and its stored size checked, and only if nobody cancelled it meanwhile; on any
 * failure the objects this attempt wrote are deleted again and the error is rethrown.
 */
export async function storeBackup(t: TeamContext, backup: RunRow, produce: Produce): Promise<TransferResult> {
  const { id: backupId } = backup;
  const teamId = t.id;
  const d = await db();
  const destinations = await destinationsOf(t, backup.destinationIds);
  const say = runLog(teamId, backupId);
  const key = objectKey(backup);
  const abort = new AbortController();
  const watch = watchRun(t, backupId, abort);
  try {
    let sealing: { dek: Buffer; wrapped: WrappedDek } | undefined;
    if (backup.encrypted) {
      const dek = newDataKey();
      const wrapped = wrapDek(dek, keyring(), teamId, backupId);
      sealing = { dek, wrapped };
      await d
        .update(backups)
        .set({ dekWrapped: wrapped.wrapped.toString("base64"), dekKeyId: wrapped.keyId, headerKeyId: wrapped.keyId })
        .where(inTeam(backups, t, eq(backups.id, backupId)));
    }
    for (const dest of destinations) {
      await d
        .insert(backupLocations)
        .values({ teamId, backupId, destinationId: dest.id, objectKey: key, storageClass: dest.classDaily })
        .onConflictDoUpdate({
          target: [backupLocations.backupId, backupLocations.destinationId],
          set: { status: "writing", objectKey: key, error: null, sizeBytes: null, sha256: null },
        });
    }
    const result = await produce({ signal: abort.signal, say: say.info }, (produced) =>
      withDestinations(t, backup.destinationIds, async (adapters) => {
        const plain = new Sha256Meter();
        const seal = sealing && createEncryptStream({ ...sealing, teamId, backupId });
        // pipeline() carries a failure of the source into the body, so every destination stops.
        (seal ? pipeline(produced.stream, plain, seal) : pipeline(produced.stream, plain)).catch(() => {});
        const body = seal ?? plain;
        say.info(`Writing to ${destinations.map((x) => x.name).join(", ")}.`);
        const [fan, manifest] = await Promise.allSettled([
          fanOut(
            body,
            adapters.map((a, i) => ({
              write: (pipe, signal) =>
                a.put(key, pipe, { storageClass: destinations[i]!.classDaily ?? undefined, signal }),
            })),
            { signal: abort.signal, onBytes: watch.set },
          ),
          produced.done,
        ]);
        const stored = fan.status === "fulfilled" ? fan.value.results : [];
        const failure =
          manifest.status === "rejected" ? manifest.reason : fan.status === "rejected" ? fan.reason : fan.value.error;
        if (failure || manifest.status === "rejected") {
          await Promise.all(
            stored.map((r, i) => (r.status === "fulfilled" ? adapters[i]!.delete(key).catch(() => {}) : undefined)),
          );
          const where = fan.status === "fulfilled" ? fan.value.failedTarget : undefined;
          if (where !== undefined)
            await emit(t, "destination.failing", { backupId, destinationId: destinations[where]!.id, error: failure });
          throw where === undefined ? failure : withDestinationName(failure, destinations[where]!.name);
        }
        const objects = stored.map((r) => (r as PromiseFulfilledResult<{ size: number; sha256: string }>).value);
        // Read back what each destination holds: a backup is only good when every copy is there in full.
        for (const [i, adapter] of adapters.entries()) {
          const info = await adapter.head(key);
          if (!info || info.size !== objects[i]!.size) {
            await Promise.all(adapters.map((a) => a.delete(key).catch(() => {})));
            throw new AppError(
              "UPSTREAM",
              `${destinations[i]!.name} does not hold the complete object after writing it (${info ? `${info.size} of ${objects[i]!.size} bytes` : "it is missing"}). Check the destination with Test.`,
            );
          }
        }
        return { objects, manifest: manifest.value, archiveBytes: plain.bytesSeen };
      }),
    );
    await watch.stop(); // from here on only the guarded UPDATE below decides
    const first = result.objects[0]!;
    const finished = await d
      .transaction(async (tx) => {
        for (const [i, dest] of destinations.entries()) {
          await tx
            .update(backupLocations)
            .set({ status: "stored", sizeBytes: result.objects[i]!.size, sha256: result.objects[i]!.sha256 })
            .where(
              and(
                eq(backupLocations.teamId, teamId),
                eq(backupLocations.backupId, backupId),
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
            archiveBytes: result.archiveBytes,
            manifest: result.manifest,
          })
          .where(
            inTeam(
              backups,
              t,
              eq(backups.id, backupId),
              eq(backups.status, "running"),
              isNull(backups.cancelRequestedAt),
            ),
          )
          .returning({ id: backups.id });
        if (!row) tx.rollback();
        return row;
      })
      .catch((err: unknown) => {
        if ((err as Error)?.name === "TransactionRollbackError") return undefined;
        throw err;
      });
    if (!finished) {
      await Promise.all(destinations.map((dest) => withDestination(t, dest.id, (a) => a.delete(key)).catch(() => {})));
      throw new RunStopped("The backup was cancelled or stopped as it finished; its objects were removed.");
    }
    say.info(
      `Succeeded: ${first.size} bytes stored in ${destinations.length} location${destinations.length > 1 ? "s" : ""}.`,
    );
    await emit(t, "backup.succeeded", { backupId });
    return {
      sizeBytes: first.size,
      sha256: first.sha256,
      archiveBytes: result.archiveBytes,
      locations: destinations.length,
    };
  } catch (err) {
    const reason = abort.signal.aborted && abort.signal.reason instanceof RunStopped ? abort.signal.reason : err;
    say.error(failureMessage(reason, { backupId }));
    throw reason;
  } finally {
    await watch.stop();
    await say.flush();
  }
}

function withDestinationName(err: unknown, name: string): unknown {
  const app = asAppError(err);
  return app ? new AppError(app.code, `${name}: ${app.message}`) : err;
}

/**
 * The end of a run that did not succeed: marks it failed (or cancelled, when someone asked) with
 * the message, and deletes every object it may have written. Idempotent; returns the final status.
 */
export async function failRun(
  teamId: string,
  backupId: string,
  message: string,
): Promise<"failed" | "cancelled" | "unchanged"> {
  const t = await systemTeam(teamId, "backup run");
  const d = await db();
  const [row] = await d
    .update(backups)
    .set({
      status: sql`case when ${backups.cancelRequestedAt} is null then 'failed'::backup_status else 'cancelled'::backup_status end`,
      finishedAt: new Date(),
      error: message.slice(0, 2000),
      dekWrapped: null,
      dekKeyId: null,
      headerKeyId: null,
    })
    .where(inTeam(backups, t, eq(backups.id, backupId), inArray(backups.status, ["queued", "running"])))
    .returning({ status: backups.status });
  const locations = await d
    .select({
      id: backupLocations.id,
      destinationId: backupLocations.destinationId,
      objectKey: backupLocations.objectKey,
    })
    .from(backupLocations)
    .where(
      and(
        eq(backupLocations.teamId, teamId),
        eq(backupLocations.backupId, backupId),
        ne(backupLocations.status, "deleted"),
      ),
    );
  for (const loc of locations) {
    try {
      await withDestination(t, loc.destinationId, (a) => a.delete(loc.objectKey));
      await d.update(backupLocations).set({ status: "deleted" }).where(eq(backupLocations.id, loc.id));
    } catch (err) {
      const why = failureMessage(err, { backupId, destinationId: loc.destinationId });
      await d
        .update(backupLocations)
        .set({ status: "failed", error: `Could not remove the partial object: ${why}` })
        .where(eq(backupLocations.id, loc.id));
    }
  }
  if (!row) return "unchanged";
  await appendRunLog(
    teamId,
    backupId,
    "error",
    row.status === "cancelled" ? `Cancelled. ${message}` : `Failed: ${message}`,
  );
  if (row.status === "failed") await emit(t, "backup.failed", { backupId });
  return row.status as "failed" | "cancelled";
}

/**
 * Runs a dead process left behind: "running" with no progress for STALE_AFTER_MS are failed (their
 * objects removed). Returns the queued backups that waited longer than `requeueAfterMs`, whose
 * events may have been lost, for the caller to dispatch again (runs are idempotent on the id).
 */
export async function sweepStaleRuns(now = new Date(), requeueAfterMs = 5 * 60_000) {
  const d = await db();
  const stale = await d
    .select({ id: backups.id, teamId: backups.teamId })
    .from(backups)
    .where(
      and(
        eq(backups.status, "running"),
        or(lt(backups.heartbeatAt, new Date(now.getTime() - STALE_AFTER_MS)), isNull(backups.heartbeatAt)),
      ),
    );
  for (const b of stale) {
    await failRun(
      b.teamId,
      b.id,
      "The run stopped making progress: the process running it ended (a restart or crash). Nothing from it was kept; run the backup again.",
    );
  }
  const queued = await d
    .select({ backupId: backups.id, teamId: backups.teamId, serverId: backups.serverId })
    .from(backups)
    .where(and(eq(backups.status, "queued"), lt(backups.createdAt, new Date(now.getTime() - requeueAfterMs))));
  return { failed: stale.length, requeue: queued };
}

/** Opens a backup's data key (re-wrapped by key rotation on the row). */
export function openDataKey(
  t: TeamContext,
  row: { id: string; dekWrapped: string | null; dekKeyId: string | null },
): Buffer {
  if (!row.dekWrapped || !row.dekKeyId)
    throw new AppError("INTERNAL", "This encrypted backup has no data key on record.");
  return unwrapDek({ keyId: row.dekKeyId, wrapped: Buffer.from(row.dekWrapped, "base64") }, keyring(), t.id, row.id);
}

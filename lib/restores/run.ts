import "server-only";
import { PassThrough, Transform, Writable, type Readable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { and, eq, inArray, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import { extract } from "tar-stream";
import { backups, restoreLogs, restores, servers, sources, storageDestinations } from "@/db/schema";
import type { VerificationResult } from "@/db/schema";
import { startArchive } from "../backups/archive";
import { openArchive, succeededBackup, type BackupRow } from "../backups/download";
import { MANIFEST_PATH, parseManifest, type Manifest, type PostgresDump, type TableCount } from "../backups/manifest";
import { insertBackup } from "../backups/mutations";
import {
  failRun,
  failureMessage,
  postgresSource,
  RunStopped,
  storeBackup,
  STALE_AFTER_MS,
  watchProgress,
} from "../backups/run";
import { COFFER_VERSION } from "../backups/version";
import { db } from "../db";
import { AppError, asAppError, notFound } from "../errors";
import { log } from "../log";
import { emit } from "../notifications/emit";
import type { Reach } from "../reach";
import { withServer } from "../servers/connect";
import type { PgConnection } from "../servers/postgres";
import { Sha256Meter } from "../storage/common";
import { inTeam, systemTeam, type TeamContext } from "../teams/context";
import { restoreDirectory } from "./files";
import { manifestOf } from "./mutations";
import { ServerPostgres } from "./postgres";

type RestoreRow = typeof restores.$inferSelect;
type ServerRow = { name: string; kind: "ssh" | "local" };
interface Ctx {
  t: TeamContext;
  job: RestoreRow;
  /** The claim this process holds: every write of the job is guarded by it. */
  attempt: number;
  backup: BackupRow;
  server: ServerRow;
  signal: AbortSignal;
  say: (line: string) => void;
  onBytes: (n: number) => void;
}

/** What a finished job reports (a workflow step's output: ids, names and counts only). */
export type RestoreOutcome = { backupId: string } & (
  | { kind: "database"; database: string; tables: number; rows: number; safetyBackupId: string | null }
  | { kind: "directory"; path: string; files: number; bytes: number }
  | { kind: "verify"; verified: boolean; differences: number }
);

/** The scratch database of a job: `coffer_restore_<id>` or `coffer_verify_<id>[_<n>]` (lower case, under 63 bytes). */
export function scratchName(kind: "restore" | "verify", restoreId: string, n = 0): string {
  return `coffer_${kind}_${restoreId.replace(/^rst_/, "")}${n ? `_${n + 1}` : ""}`;
}

export async function appendRestoreLog(teamId: string, restoreId: string, level: "info" | "error", message: string) {
  const d = await db();
  await d.insert(restoreLogs).values({ teamId, restoreId, level, message: message.slice(0, 2000) });
}

function restoreLog(teamId: string, restoreId: string) {
  let chain = Promise.resolve();
  const write = (level: "info" | "error", message: string) => {
    chain = chain
      .then(() => appendRestoreLog(teamId, restoreId, level, message))
      .catch((err: unknown) => log.warn("restore log write failed", { restoreId, err }));
  };
  return { info: (m: string) => write("info", m), error: (m: string) => write("error", m), flush: () => chain };
}

/**
 * Starts (or, on a retry, restarts) a queued or running job; resolves with the claim (the attempt
 * number that guards the job's writes, so an earlier execution still going stops writing), or null
 * when there is nothing to do. A running job someone asked to cancel throws RunStopped, to be failed.
 */
export async function claimRestore(teamId: string, restoreId: string): Promise<number | null> {
  const d = await db();
  const [row] = await d
    .update(restores)
    .set({
      status: "running",
      startedAt: sql`coalesce(${restores.startedAt}, now())`,
      heartbeatAt: new Date(),
      attempts: sql`${restores.attempts} + 1`,
      error: null,
      bytesDone: 0,
    })
    .where(
      and(
        eq(restores.teamId, teamId),
        eq(restores.id, restoreId),
        inArray(restores.status, ["queued", "running"]),
        isNull(restores.cancelRequestedAt),
      ),
    )
    .returning({ attempts: restores.attempts });
  if (!row) {
    const [cancelled] = await d
      .select({ by: restores.cancelRequestedBy })
      .from(restores)
      .where(and(eq(restores.teamId, teamId), eq(restores.id, restoreId), eq(restores.status, "running")));
    if (cancelled) throw new RunStopped(`Cancelled by ${cancelled.by ?? "a team member"}.`);
    return null;
  }
  await appendRestoreLog(teamId, restoreId, "info", row.attempts > 1 ? `Attempt ${row.attempts} started.` : "Started.");
  return row.attempts;
}

/** The job's row while `attempt` is its claim and it runs. */
const ours = (t: TeamContext, restoreId: string, attempt: number) =>
  inTeam(restores, t, eq(restores.id, restoreId), eq(restores.status, "running"), eq(restores.attempts, attempt));

function watchRestore(t: TeamContext, restoreId: string, attempt: number, abort: AbortController) {
  return watchProgress(
    "job",
    restoreId,
    async (bytes) => {
      const d = await db();
      const [row] = await d
        .update(restores)
        .set({ bytesDone: bytes, heartbeatAt: new Date() })
        .where(ours(t, restoreId, attempt))
        .returning({ cancelBy: restores.cancelRequestedBy, cancelAt: restores.cancelRequestedAt });
      return row;
    },
    abort,
  );
}

/** Records the scratch database that may exist (and whose connection reaches it), or that none is left (null). */
async function setScratch(t: TeamContext, restoreId: string, scratch: { name: string; sourceId: string } | null) {
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

/** The PostgreSQL connection of a database source, as the job's server reaches it. */
async function connectionOf(
  t: TeamContext,
  serverKind: "ssh" | "local",
  sourceId: string,
  purpose: string,
): Promise<PgConnection & { id: string }> {
  const d = await db();
  const [s] = await d
    .select()
    .from(sources)
    .where(inTeam(sources, t, eq(sources.id, sourceId)));
  if (!s || s.kind !== "postgres")
    throw new AppError(
      "NOT_FOUND",
      `The database source ${purpose} was deleted. Choose another connection and start again.`,
    );
  return postgresSource(t, serverKind, s);
}

/**
 * Runs a claimed restore or verification to its end. A database restore loads into a scratch
 * database and renames it into place only when the whole dump loaded; replacing takes a safety
 * backup of the target first. A verification's differences are its result (it returns normally);
 * anything else that fails is thrown for the workflow to retry or fail.
 */
export async function performRestore(teamId: string, restoreId: string, attempt: number): Promise<RestoreOutcome> {
  const t = await systemTeam(teamId, "restore");
  const d = await db();
  const [job] = await d
    .select()
    .from(restores)
    .where(inTeam(restores, t, eq(restores.id, restoreId)));
  if (!job) throw notFound("That restore");
  if (job.status !== "running") throw new RunStopped(`The job is ${job.status}; it is not run again.`);
  if (job.attempts !== attempt) throw new RunStopped("Another process took over the job.");
  const backup = await succeededBackup(t, job.backupId);
  const [server] = await d
    .select({ name: servers.name, kind: servers.kind })
    .from(servers)
    .where(inTeam(servers, t, eq(servers.id, job.serverId)));
  if (!server) throw notFound("The target server");
  const say = restoreLog(teamId, restoreId);
  const abort = new AbortController();
  const watch = watchRestore(t, restoreId, attempt, abort);
  const ctx: Ctx = { t, job, attempt, backup, server, signal: abort.signal, say: say.info, onBytes: watch.set };
  try {
    let outcome: RestoreOutcome;
    let result: VerificationResult | null = null;
    if (job.kind === "database") outcome = { backupId: job.backupId, ...(await restoreDatabase(ctx)) };
    else if (job.kind === "directory") outcome = { backupId: job.backupId, ...(await restoreFolders(ctx)) };
    else {
      result = await verify(ctx);
      outcome = {
        backupId: job.backupId,
        kind: "verify",
        verified: result.differences.length === 0,
        differences: result.differences.length,
      };
    }
    await watch.stop();
    const failed = result && result.differences.length > 0;
    const error = failed
      ? `Verification found ${result!.differences.length} difference(s): ${result!.differences.slice(0, 3).join("; ")}${result!.differences.length > 3 ? "; …" : ""}`
      : null;
    const finished = await d.transaction(async (tx) => {
      const [row] = await tx
        .update(restores)
        .set({
          status: failed ? "failed" : "succeeded",
          finishedAt: new Date(),
          result,
          error,
          bytesDone: sql`coalesce(${restores.totalBytes}, ${restores.bytesDone})`,
        })
        .where(ours(t, restoreId, attempt))
        .returning({ id: restores.id });
      if (row && result) {
        const at = new Date();
        await tx
          .update(backups)
          .set({
            ...(failed ? {} : { verifiedAt: at }),
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
    await emit(
      t,
      job.kind !== "verify" ? "restore.succeeded" : failed ? "verification.failed" : "verification.succeeded",
      { restoreId },
    );
    say.info(describeOutcome(outcome));
    if (error) say.error(error);
    return outcome;
  } catch (err) {
    const reason = abort.signal.aborted && abort.signal.reason instanceof RunStopped ? abort.signal.reason : err;
    say.error(failureMessage(reason, { restoreId }));
    throw reason;
  } finally {
    await watch.stop();
    await say.flush();
  }
}

function describeOutcome(o: RestoreOutcome): string {
  if (o.kind === "database") return `Restored ${o.database}: ${o.tables} table(s), ${o.rows} row(s).`;
  if (o.kind === "directory") return `Restored ${o.files} file(s) (${o.bytes} bytes) to ${o.path}.`;
  return o.verified ? "Verified: every check matched the manifest." : `Not verified: ${o.differences} difference(s).`;
}

// ---------------------------------------------------------------------------------------------
// Reading the archive

const verbOf = (job: RestoreRow) => (job.kind === "verify" ? "verify it" : "restore it");

/** Larger than zlib's 16 KiB default: a restore is bound by this CPU on small machines (bench:restore). */
const GUNZIP_CHUNK = 256 * 1024;

/** Counts the plain archive's bytes for progress. */
function counter(onBytes: (n: number) => void) {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      onBytes(n);
      cb(null, chunk);
    },
  });
}

/**
 * Streams the backup's archive as tar entries (decrypted and decompressed on the way) to `each`,
 * one at a time; `each` must consume or drain the entry, and may return "stop" to end early.
 */
async function readEntries(
  ctx: Ctx,
  each: (name: string, type: string, body: Readable) => Promise<"stop" | void>,
): Promise<void> {
  const { body } = await openArchive(ctx.t, ctx.backup, { signal: ctx.signal, verb: verbOf(ctx.job) });
  const tar = extract();
  const feeding = pipeline(body, counter(ctx.onBytes), createGunzip({ chunkSize: GUNZIP_CHUNK }), tar);
  feeding.catch(() => {}); // awaited below when the read runs to its end
  let ended = false;
  try {
    for await (const entry of tar) {
      // tar-stream's entries are streamx streams: hand on a Node stream (errors carried over).
      const entryBody = new PassThrough();
      pipeline(entry as unknown as Readable, entryBody).catch(() => {});
      if ((await each(entry.header.name, entry.header.type ?? "file", entryBody)) === "stop") return;
      entryBody.resume();
    }
    ended = true;
  } finally {
    if (!ended) body.destroy();
  }
  await feeding.catch((err: unknown) => {
    throw ctx.signal.aborted ? ctx.signal.reason : err;
  });
}

/** A message when `err` says the archive itself is damaged (failed authentication, bad gzip or tar), else null. */
function archiveDamage(err: unknown): string | null {
  const app = asAppError(err);
  if (app) return app.code === "INTERNAL" && /^The backup object/.test(app.message) ? app.message : null;
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === "string" && e.code.startsWith("Z_"))
    return `The archive is not valid gzip data (${String(e.message)}).`;
  if (
    typeof e?.message === "string" &&
    /tar header|Invalid header|Unexpected end of data|Header exceeds/i.test(e.message)
  )
    return `The archive is not a valid tar file (${e.message}).`;
  return null;
}

const drain = () => new Writable({ write: (_c, _e, cb) => cb() });

// ---------------------------------------------------------------------------------------------
// Database restore

async function restoreDatabase(ctx: Ctx): Promise<Omit<Extract<RestoreOutcome, { kind: "database" }>, "backupId">> {
  const { t, job, server, signal, say } = ctx;
  const target = job.targetDatabase!;
  const conn = await connectionOf(t, server.kind, job.connectionSourceId!, "used to reach the target");
  const scratch = scratchName("restore", job.id);
  const old = job.mode === "replace" ? oldName(job.id) : null;
  return withServer(
    t,
    job.serverId,
    async (reach) => {
      let counts: TableCount[] | null = null;
      let safetyBackupId = job.safetyBackupId;
      if (!job.swapStartedAt) {
        const pg = new ServerPostgres(reach, conn, `coffer:${job.id}`, signal);
        await setScratch(t, job.id, { name: scratch, sourceId: conn.id });
        const exists = await pg.recreate(scratch, target); // an earlier attempt's scratch goes
        if (job.mode === "new" && exists)
          throw new AppError(
            "VALIDATION",
            `Database ${target} already exists on ${server.name}. Choose a new name, or replace it.`,
          );
        if (job.mode === "replace" && !exists)
          throw new AppError(
            "VALIDATION",
            `Database ${target} does not exist on ${server.name}: restore into a new database instead.`,
          );
        if (job.mode === "replace") safetyBackupId = await safetyBackup(ctx, reach, conn, target);
        await loadChecked(ctx, pg, scratch);
        counts = await pg.countRows(scratch);
        await startSwap(ctx);
      }
      // From here on the loaded database goes into place whatever happens: nothing aborts it, and
      // a retry finishes it (the swap is one transaction: the scratch is there until it commits).
      const pg = new ServerPostgres(reach, conn, `coffer:${job.id}`);
      if (counts || (await pg.exists(scratch))) {
        say(old ? `Loaded. Replacing ${target} with it.` : `Loaded. Renaming it to ${target}.`);
        await pg.swap(scratch, target, old);
      } else if (!(await pg.exists(target))) {
        throw new AppError(
          "INTERNAL",
          `Neither the loaded database ${scratch} nor ${target} is on ${server.name} any more: the restore cannot tell what happened. Restore again into a new database.`,
        );
      }
      // The job's scratch record covers the old database too (dropScratch drops both names).
      let oldLeft = false;
      if (old) {
        await pg.drop(old).catch((err: unknown) => {
          oldLeft = true;
          say(`Could not drop ${old} yet (the sweeper tries again): ${failureMessage(err, { restoreId: job.id })}`);
        });
      }
      if (!oldLeft) await setScratch(t, job.id, null);
      counts ??= await pg.countRows(target);
      return {
        kind: "database",
        database: target,
        tables: counts.length,
        rows: counts.reduce((n, c) => n + c.rows, 0),
        safetyBackupId,
      };
    },
    { signal },
  );
}

/** What the database being replaced is called between the swap and its drop. */
export const oldName = (restoreId: string) => `coffer_old_${restoreId.replace(/^rst_/, "")}`;

/**
 * Loads the job's dump into `scratch`, checking on the way that it is the one the manifest
 * describes (its size and SHA-256), so only that dump is ever put in place.
 */
async function loadChecked(ctx: Ctx, pg: ServerPostgres, scratch: string): Promise<void> {
  const member = ctx.job.members[0]!;
  const expected = manifestOf(ctx.backup)?.entries.find((e) => e.path === member);
  ctx.say(`Loading ${member} into ${scratch} on ${ctx.server.name}…`);
  let found = false;
  await readEntries(ctx, async (name, type, body) => {
    if (name !== member || type !== "file") return;
    found = true;
    const hash = new Sha256Meter();
    pipeline(body, hash).catch(() => {}); // a damaged archive fails `hash`, which stops psql
    await pg.load(scratch, hash);
    await finished(hash);
    if (expected && (hash.bytesSeen !== expected.size || hash.digest() !== expected.sha256)) {
      throw new AppError(
        "VALIDATION",
        `${member} in the archive differs from the manifest's record of it (size or SHA-256), so it was not put in place. Verify this backup, and restore another.`,
      );
    }
    return "stop";
  });
  if (!found) throw new AppError("VALIDATION", `${member} is not in this backup's archive.`);
}

/**
 * The point of no return: the job, still ours and not asked to stop, is marked as swapping; a
 * cancel asked for before this wins (nothing is replaced), one asked for after is refused.
 */
async function startSwap(ctx: Ctx): Promise<void> {
  const d = await db();
  const [row] = await d
    .update(restores)
    .set({ swapStartedAt: new Date() })
    .where(
      and(ours(ctx.t, ctx.job.id, ctx.attempt), isNull(restores.cancelRequestedAt), isNull(restores.swapStartedAt)),
    )
    .returning({ id: restores.id });
  if (!row)
    throw ctx.signal.aborted
      ? ctx.signal.reason
      : new RunStopped("The job was stopped before the restored database was put in place; nothing was replaced.");
}

/**
 * Backs up the database about to be replaced, as a backup of the target server (encrypted, to the
 * restored backup's destinations that still exist). Done once per restore: a retry reuses it.
 */
async function safetyBackup(ctx: Ctx, reach: Reach, conn: PgConnection, database: string): Promise<string> {
  const { t, job, backup, server, say, signal } = ctx;
  const d = await db();
  if (job.safetyBackupId) {
    const [done] = await d
      .select({ status: backups.status })
      .from(backups)
      .where(inTeam(backups, t, eq(backups.id, job.safetyBackupId)));
    if (done?.status === "succeeded") return job.safetyBackupId;
  }
  const dests = await d
    .select({ id: storageDestinations.id })
    .from(storageDestinations)
    .where(inTeam(storageDestinations, t, inArray(storageDestinations.id, backup.destinationIds)));
  if (!dests.length)
    throw new AppError(
      "VALIDATION",
      "The backup's destinations were deleted, so there is nowhere to keep the safety backup of the database being replaced. Restore into a new database instead.",
    );
  const created = await d.transaction(async (tx) => {
    const row = (await insertBackup(tx, t, {
      serverId: job.serverId,
      sourceIds: [job.connectionSourceId!],
      destinationIds: dests.map((x) => x.id),
      encrypted: true,
      trigger: "safety",
    }))!;
    await tx
      .update(backups)
      .set({ status: "running", startedAt: new Date(), heartbeatAt: new Date(), attempts: 1 })
      .where(inTeam(backups, t, eq(backups.id, row.id)));
    await tx
      .update(restores)
      .set({ safetyBackupId: row.id })
      .where(inTeam(restores, t, eq(restores.id, job.id)));
    return row;
  });
  say(`Backing up ${database} before replacing it (safety backup ${created.id})…`);
  const [row] = await d
    .select({
      id: backups.id,
      serverId: backups.serverId,
      fileName: backups.fileName,
      encrypted: backups.encrypted,
      sourceIds: backups.sourceIds,
      destinationIds: backups.destinationIds,
    })
    .from(backups)
    .where(inTeam(backups, t, eq(backups.id, created.id)));
  try {
    await storeBackup(t, row!, async (run, consume) => {
      const archive = await startArchive({
        reach,
        workDir: (
          await d
            .select({ workDir: servers.workDir })
            .from(servers)
            .where(inTeam(servers, t, eq(servers.id, job.serverId)))
        )[0]!.workDir,
        serverName: server.name,
        backupId: created.id,
        sources: [
          { kind: "postgres", id: job.connectionSourceId!, name: `${database} before restore`, ...conn, database },
        ],
        cofferVersion: COFFER_VERSION,
        signal: AbortSignal.any([run.signal, signal]),
        onStep: run.say,
      });
      return consume({ stream: archive.stream, done: archive.done as unknown as Promise<Record<string, unknown>> });
    });
  } catch (err) {
    await failRun(t.id, created.id, failureMessage(err, { backupId: created.id }));
    const app = asAppError(err);
    throw new AppError(
      app?.code ?? "UPSTREAM",
      `The safety backup of ${database} failed, so nothing was replaced: ${app?.message ?? "unexpected error"}`,
    );
  }
  say(`Safety backup ${created.id} stored.`);
  return created.id;
}

// ---------------------------------------------------------------------------------------------
// Directory restore

async function restoreFolders(ctx: Ctx): Promise<Omit<Extract<RestoreOutcome, { kind: "directory" }>, "backupId">> {
  const { t, job, server, signal, say } = ctx;
  return withServer(
    t,
    job.serverId,
    async (reach) => {
      const { body } = await openArchive(t, ctx.backup, { signal, verb: verbOf(job) });
      const tar = createGunzip({ chunkSize: GUNZIP_CHUNK });
      const reading = pipeline(body, counter(ctx.onBytes), tar).catch((err: unknown) => {
        tar.destroy(err as Error);
      });
      try {
        const r = await restoreDirectory({
          reach,
          serverName: server.name,
          tar,
          members: job.members,
          target: job.targetPath!,
          mode: job.mode as "fresh" | "overwrite",
          restoreId: job.id.replace(/^rst_/, ""),
          signal,
          onStep: say,
        });
        return { kind: "directory", path: job.targetPath!, files: r.files, bytes: r.bytes };
      } finally {
        body.destroy();
        await reading;
      }
    },
    { signal },
  );
}

// ---------------------------------------------------------------------------------------------
// Verification

/**
 * Reads the whole archive once: every file's size and SHA-256 is compared with the manifest, and
 * every dump is loaded into its own scratch database (dropped again at once) whose row counts are
 * compared with the manifest's. Returns every difference found.
 */
async function verify(ctx: Ctx): Promise<VerificationResult> {
  const { t, job, server, signal, say } = ctx;
  let manifest: Manifest | null = manifestOf(ctx.backup);
  const differences: string[] = [];
  const seen = new Map<string, { size: number; sha256: string }>();
  const databases: VerificationResult["databases"] = [];
  let dumpIndex = 0;
  return withServer(
    t,
    job.serverId,
    async (reach) => {
      /** Loads the dump (read through `hash`) into a scratch database and counts it. */
      const loadAndCount = async (dump: PostgresDump, body: Readable, hash: Sha256Meter) => {
        const conn = await connectionOf(
          t,
          server.kind,
          job.connectionSourceId ?? dump.source,
          job.connectionSourceId ? "chosen for verification" : `of ${dump.database}`,
        );
        const pg = new ServerPostgres(reach, conn, `coffer:${job.id}`, signal);
        const scratch = scratchName("verify", job.id, dumpIndex++);
        await setScratch(t, job.id, { name: scratch, sourceId: conn.id });
        try {
          await pg.recreate(scratch);
          say(`Loading ${dump.path} into ${scratch} on ${server.name}…`);
          pipeline(body, hash).catch(() => {}); // a damaged archive fails `hash`, which stops psql
          try {
            await pg.load(scratch, hash);
          } catch (err) {
            // Only a statement of the dump failing says the dump does not load; anything else is retried.
            if (archiveDamage(err) || signal.aborted || asAppError(err)?.code !== "VALIDATION") throw err;
            differences.push(`${dump.database}: the dump does not load: ${asAppError(err)!.message}`);
            return;
          }
          const counts = await pg.countRows(scratch);
          const restored = new Map(counts.map((c) => [`${c.schema}.${c.table}`, c.rows]));
          for (const c of dump.tables) {
            const key = `${c.schema}.${c.table}`;
            const rows = restored.get(key);
            if (rows === undefined)
              differences.push(
                `${dump.database}: table ${key} is missing after the restore (the manifest counts ${c.rows} rows).`,
              );
            else if (rows !== c.rows)
              differences.push(
                `${dump.database}: table ${key} has ${rows} rows after the restore; the manifest counts ${c.rows}.`,
              );
            restored.delete(key);
          }
          for (const key of restored.keys()) differences.push(`${dump.database}: table ${key} is not in the manifest.`);
          databases.push({
            member: dump.path,
            database: dump.database,
            tables: counts.length,
            rows: counts.reduce((n, c) => n + c.rows, 0),
          });
          say(`${dump.database}: ${counts.length} table(s) restored and counted.`);
        } finally {
          await pg.drop(scratch);
          await setScratch(t, job.id, null);
        }
      };

      try {
        await readEntries(ctx, async (name, type, body) => {
          if (type !== "file") return;
          const hash = new Sha256Meter();
          if (name === MANIFEST_PATH && !manifest) {
            const chunks: Buffer[] = [];
            for await (const c of body) chunks.push(c as Buffer);
            manifest = parseManifest(Buffer.concat(chunks));
            return;
          }
          if (name === MANIFEST_PATH) return;
          const dump = manifest?.postgres.find((p) => p.path === name);
          if (dump) {
            await loadAndCount(dump, body, hash);
            if (!hash.readableEnded) await pipeline(hash, drain()); // the dump did not load: read past it
          } else {
            await pipeline(body, hash, drain());
          }
          seen.set(name, { size: hash.bytesSeen, sha256: hash.digest() });
        });
      } catch (err) {
        const damage = archiveDamage(err);
        if (!damage) throw err;
        differences.push(damage);
      }
      if (manifest) {
        for (const e of manifest.entries) {
          const got = seen.get(e.path);
          if (!got) differences.push(`${e.path} is missing from the archive.`);
          else if (got.size !== e.size)
            differences.push(`${e.path} is ${got.size} bytes; the manifest says ${e.size}.`);
          else if (got.sha256 !== e.sha256) differences.push(`${e.path}: its SHA-256 differs from the manifest's.`);
          seen.delete(e.path);
        }
        for (const path of seen.keys()) differences.push(`${path} is in the archive but not in the manifest.`);
      } else {
        say("This archive has no Coffer manifest: only its integrity (decryption, gzip, tar) was checked.");
      }
      const files = manifest ? manifest.entries.length : seen.size;
      return { tables: databases.reduce((n, x) => n + x.tables, 0), files, databases, differences };
    },
    { signal },
  );
}

// ---------------------------------------------------------------------------------------------
// Failure and the sweeper

/**
 * Drops a job's scratch database if one may be left (for a replacing restore, the replaced database
 * set aside by its swap too: whichever exists is not the target); true when none is left.
 */
async function dropScratch(
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
  await withServer(t, job.serverId, (reach) => new ServerPostgres(reach, conn, `coffer:${job.id}`).drop(...names));
  await setScratch(t, job.id, null);
  return true;
}

/** The end of a job that did not succeed: failed (or cancelled), its scratch database dropped. Idempotent. */
export async function failRestore(
  teamId: string,
  restoreId: string,
  message: string,
): Promise<{ status: "failed" | "cancelled" | "unchanged"; backupId: string }> {
  const t = await systemTeam(teamId, "restore");
  const d = await db();
  const [row] = await d
    .update(restores)
    .set({
      status: sql`case when ${restores.cancelRequestedAt} is null then 'failed'::restore_status else 'cancelled'::restore_status end`,
      finishedAt: new Date(),
      error: message.slice(0, 2000),
    })
    .where(inTeam(restores, t, eq(restores.id, restoreId), inArray(restores.status, ["queued", "running"])))
    .returning();
  const [job] = row
    ? [row]
    : await d
        .select()
        .from(restores)
        .where(inTeam(restores, t, eq(restores.id, restoreId)));
  if (job && !job.scratchDroppedAt) {
    await dropScratch(t, job).catch((err: unknown) =>
      appendRestoreLog(
        teamId,
        restoreId,
        "error",
        `Could not drop the scratch database ${job.scratchDatabase} yet (the sweeper tries again): ${failureMessage(err, { restoreId })}`,
      ),
    );
  }
  if (!row) return { status: "unchanged", backupId: job?.backupId ?? "" };
  if (row.kind === "verify" && row.status === "failed") {
    await d
      .update(backups)
      .set({
        verification: {
          status: "failed",
          at: new Date().toISOString(),
          restoreId,
          tables: 0,
          files: 0,
          differences: [message.slice(0, 500)],
        },
      })
      .where(inTeam(backups, t, eq(backups.id, row.backupId)));
  }
  await appendRestoreLog(
    teamId,
    restoreId,
    "error",
    row.status === "cancelled" ? `Cancelled. ${message}` : `Failed: ${message}`,
  );
  if (row.status === "failed")
    await emit(t, row.kind === "verify" ? "verification.failed" : "restore.failed", { restoreId });
  if (row.swapStartedAt) {
    await appendRestoreLog(
      teamId,
      restoreId,
      "error",
      `It stopped while putting the restored database in place, which happens all at once: ${row.targetDatabase} holds either the restored data or what it held before. Check it before restoring again.`,
    );
  }
  return { status: row.status as "failed" | "cancelled", backupId: row.backupId };
}

/**
 * What a dead process left: running jobs without progress for STALE_AFTER_MS are failed — unless
 * they were putting a restored database in place (within a day), which are dispatched again to
 * finish — and every scratch database of a finished job still on record is dropped. Returns the
 * jobs to dispatch again: those, and the queued jobs that waited longer than `requeueAfterMs`.
 */
export async function sweepRestores(now = new Date(), requeueAfterMs = 5 * 60_000) {
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
    .where(
      and(
        eq(restores.status, "running"),
        or(lt(restores.heartbeatAt, new Date(now.getTime() - STALE_AFTER_MS)), isNull(restores.heartbeatAt)),
      ),
    );
  const swapping = stale.filter((r) => r.swapStartedAt && now.getTime() - r.swapStartedAt.getTime() < 24 * 3_600_000);
  for (const r of stale) {
    if (!swapping.includes(r))
      await failRestore(
        r.teamId,
        r.restoreId,
        "The job stopped making progress: the process running it ended (a restart or crash). Run it again.",
      );
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
    .where(and(eq(restores.status, "queued"), lt(restores.createdAt, new Date(now.getTime() - requeueAfterMs))));
  return {
    failed: stale.length - swapping.length,
    dropped,
    requeue: [...swapping.map(({ swapStartedAt: _, ...r }) => r), ...queued],
  };
}

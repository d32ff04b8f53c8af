import "server-only";
import { finished, pipeline } from "node:stream/promises";
import { isNull } from "drizzle-orm";
import { restores } from "@/db/schema";
import type { Readable } from "node:stream";
import { globalsOf, type TableCount } from "../backups/manifest";
import { formatBytes } from "../format";
import { db } from "../db";
import { AppError } from "../errors";
import { failureMessage, RunStopped } from "../jobs/failure";
import { stopIfCancelRequested } from "../jobs/claim";
import { ours } from "../jobs/table";
import { withServer } from "../servers/connect";
import { Sha256Meter } from "../storage/common";
import { fromIntactCopy, readEntries } from "./archive-entries";
import { connectionOf, type DatabaseOutcome, type RestoreCtx } from "./job";
import { manifestOf } from "./mutations";
import { ServerPostgres } from "./postgres";
import { safetyBackup } from "./safety-backup";
import { testPause } from "../jobs/test-pause";
import { oldName, scratchName, setScratch } from "./scratch";

/**
 * Restores one dump into a database: loaded into a scratch database and renamed into place only
 * when the whole dump loaded; replacing takes a safety backup of the target first. Each table's
 * rows (the first 200) come back too, for the job's record (not the workflow step's output).
 */
export async function restoreDatabase(
  ctx: RestoreCtx,
): Promise<DatabaseOutcome & { counts: { table: string; rows: number }[] }> {
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
        // Created (an earlier attempt's scratch goes) while the archive is opened and read up to the dump.
        const created = pg.recreate(scratch, target).then((exists) => {
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
        });
        created.catch(() => {}); // awaited on every path below
        const member = job.members[0]!;
        let copied: TableCount[] | null = null;
        const load = async () => {
          if (job.withGlobals) {
            await created;
            await createGlobals(ctx, pg); // roles already there are kept
          }
          await readChecked(ctx, member, async (body) => {
            await created;
            ctx.say(`Loading ${member} into ${scratch} on ${server.name}…`);
            copied = await pg.load(scratch, body);
          });
        };
        try {
          if (job.mode === "replace") {
            await created;
            safetyBackupId = await safetyBackup(ctx, reach, conn, target);
          }
          await fromIntactCopy(ctx, load, async () => {
            await created;
            await pg.recreate(scratch, target);
          });
        } catch (err) {
          await created; // its failure says more, and no CREATE DATABASE outlives the attempt
          throw err;
        }
        // pg_dump's plain SQL, as Coffer takes it, loads every row with COPY: psql's tags count them.
        // Another dump may add rows otherwise (INSERT), so its tables are counted once loaded.
        const ours = manifestOf(ctx.backup)?.postgres.some((p) => p.path === member);
        if (ours && copied) {
          counts = copied;
          say("Loaded.");
        } else {
          say("Loaded. Counting its rows…");
          counts = await pg.countRows(scratch);
        }
        // With the roles back, a whole cluster's database goes back to its owner too.
        const owner = job.withGlobals && manifestOf(ctx.backup)?.postgres.find((p) => p.path === member)?.owner;
        if (owner) {
          await pg.setOwner(scratch, owner);
          say(`Owned by ${owner}, as in the backup.`);
        }
        await testPause("restore-loaded");
        await startSwap(ctx);
        await testPause("restore-swap");
      }
      // From here on the loaded database goes into place whatever happens: nothing aborts it, and
      // a retry finishes it (the swap is one transaction: the scratch is there until it commits).
      const pg = new ServerPostgres(reach, conn, `coffer:${job.id}`);
      if (counts || (await pg.exists(scratch))) {
        say(old ? `Replacing ${target} with it.` : `Renaming it to ${target}.`);
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
        counts: counts.slice(0, 200).map((c) => ({ table: `${c.schema}.${c.table}`, rows: c.rows })),
        safetyBackupId,
      };
    },
    { signal },
  );
}

/**
 * The backup's roles and tablespaces (`postgres/globals.sql`), created before the database is
 * loaded so its owners and grants resolve. Read whole (it is small) and checked against the
 * manifest before any of it runs; roles that already exist are kept, and the log names them.
 */
async function createGlobals(ctx: RestoreCtx, pg: ServerPostgres): Promise<void> {
  const manifest = manifestOf(ctx.backup);
  const globals = manifest && globalsOf(manifest);
  if (!globals)
    throw new AppError("VALIDATION", "This backup holds no roles and tablespaces: restore it without creating them.");
  ctx.say(`Creating the roles and tablespaces of ${globals.path} on ${ctx.server.name}…`);
  let sql: Buffer | undefined;
  await readChecked(ctx, globals.path, async (body) => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_GLOBALS_BYTES)
        throw new AppError(
          "VALIDATION",
          `${globals.path} is larger than ${formatBytes(MAX_GLOBALS_BYTES)}: not applied.`,
        );
      chunks.push(chunk);
    }
    sql = Buffer.concat(chunks);
  });
  const { existing } = await pg.applyGlobals(sql!);
  ctx.say(
    existing.length
      ? `Roles already on ${ctx.server.name}, kept (their attributes and memberships set as in the backup): ${existing.join(", ")}.`
      : "Created the roles and tablespaces.",
  );
  if (!globals.rolePasswords)
    ctx.say("The backup holds no password hashes: set the passwords of roles that sign in (ALTER ROLE … PASSWORD).");
}

/** More than the roles and tablespaces of any cluster take; a bigger globals.sql is not held in memory. */
const MAX_GLOBALS_BYTES = 64 * 1024 * 1024;

/**
 * Hands `member` of the archive to `consume`, checking on the way that it is the one the manifest
 * describes (its size and SHA-256): a mismatch fails the restore, so only that dump is ever put
 * in place.
 */
async function readChecked(ctx: RestoreCtx, member: string, consume: (body: Readable) => Promise<void>): Promise<void> {
  const expected = manifestOf(ctx.backup)?.entries.find((e) => e.path === member);
  let found = false;
  await readEntries(ctx, async (name, type, body) => {
    if (name !== member || type !== "file") return;
    found = true;
    const hash = new Sha256Meter();
    pipeline(body, hash).catch(() => {}); // a damaged archive fails `hash`, which stops the consumer
    await consume(hash);
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
async function startSwap(ctx: RestoreCtx): Promise<void> {
  const d = await db();
  const [row] = await d
    .update(restores)
    .set({ swapStartedAt: new Date() })
    .where(ours(ctx.claim, isNull(restores.cancelRequestedAt), isNull(restores.swapStartedAt)))
    .returning({ id: restores.id });
  if (!row) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    // A cancel the progress watch has not seen yet still says who cancelled.
    await stopIfCancelRequested(ctx.claim);
    throw new RunStopped("The job was stopped before the restored database was put in place; nothing was replaced.");
  }
}

import { createHash, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { requestBackup } from "@/lib/backups/mutations";
import { DEFAULT_POLICY } from "@/lib/retention/select";
import { createSchedule } from "@/lib/schedules/mutations";
import { getBackup } from "@/lib/backups/queries";
import { importUpload } from "@/lib/backups/upload";
import { createDestination } from "@/lib/destinations/mutations";
import { env } from "@/lib/env";
import {
  cancelRestore,
  requestDatabaseRestore,
  requestDirectoryRestore,
  requestVerification,
  verificationAfterBackup,
} from "@/lib/restores/mutations";
import { getRestore, listRestores } from "@/lib/restores/queries";
import { failRestore } from "@/lib/restores/fail";
import { claimRestore } from "@/lib/restores/perform";
import { oldName, scratchName } from "@/lib/restores/scratch";
import { sweepRestoresAllTeams } from "@/lib/restores/sweep";
import { createServer } from "@/lib/servers/mutations";
import { createSource, deleteSource } from "@/lib/servers/source-mutations";
import { setBackupRow, setLocationRow, setRestoreRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { startSshd, type TestSshd } from "@/test/servers/sshd";
import { backupEvent, restoreEvent } from "../events";
import { inProcessEngine, type InProcessEngine } from "../in-process";
import { backUpNow } from "@/test/backups";

let sshd: TestSshd;
let pgPort: number;
let admin: postgres.Sql;
let engine: InProcessEngine;
let scratch: string;

beforeAll(async () => {
  sshd = await startSshd();
  const adminUrl = inject("postgresAdminUrl")!;
  pgPort = Number(new URL(adminUrl).port);
  admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  scratch = mkdtempSync(path.join(tmpdir(), "coffer-restores-"));
});
afterAll(async () => {
  await engine?.stop();
  await Promise.all([sshd?.stop(), admin?.end()]);
});

const dbUrl = (name: string) => inject("postgresAdminUrl")!.replace(/\/postgres$/, `/${name}`);
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function withDb<T>(name: string, fn: (c: postgres.Sql) => Promise<T>): Promise<T> {
  const c = postgres(dbUrl(name), { max: 1, onnotice: () => {} });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
/** Every row of `items`, in order, as one digest. */
const digest = (name: string) =>
  withDb(
    name,
    async (c) =>
      (
        await c.unsafe(
          `select md5(string_agg(id || ':' || label, ',' order by id)) as d, count(*)::int as n from items`,
        )
      )[0] as unknown as { d: string; n: number },
  );
const databaseExists = async (name: string) =>
  (await admin`select 1 from pg_database where datname = ${name}`).length > 0;
const scratchDatabases = async () =>
  (await admin`select datname from pg_database where datname ~ '^coffer_(restore|verify|old)_'`).map(
    (r) => r.datname as string,
  );

/** A team with an SSH server, a database with `rows` known rows as its source, and a local-disk destination. */
async function setup(rows = 500) {
  const user = await signedUpUser("Restorer");
  const t = await user.team("admin");
  const { id: serverId } = await createServer(t, {
    kind: "ssh",
    name: `box-${randomBytes(3).toString("hex")}`,
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    authMethod: "key",
    privateKey: sshd.privateKey,
    workDir: "/var/tmp",
  });
  const database = `src_${randomBytes(5).toString("hex")}`;
  await admin.unsafe(`create database ${database}`);
  await withDb(database, (c) =>
    c.unsafe(
      `create table items (id int primary key, label text); create table notes (n text); insert into items select g, 'item ' || g from generate_series(1, ${rows}) g; insert into notes values ('a'), ('b');`,
    ),
  );
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "postgres",
    name: "app db",
    pgHost: "127.0.0.1",
    pgPort,
    pgDatabase: database,
    pgUser: "postgres",
    pgSslmode: "disable",
  });
  const prefix = `r-${randomBytes(4).toString("hex")}`;
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix });
  return { user, t, serverId, sourceId, database, destinationId, prefix };
}
type Setup = Awaited<ReturnType<typeof setup>>;

async function backedUp(s: Setup, sourceIds = [s.sourceId]) {
  const { id } = await backUpNow(engine, s.t, {
    serverId: s.serverId,
    sourceIds,
    destinationIds: [s.destinationId],
    encrypted: true,
  });
  expect((await getBackup(s.t, id)).status).toBe("succeeded");
  return id;
}

async function run(t: Setup["t"], restoreId: string) {
  const r = await getRestore(t, restoreId);
  engine.send([restoreEvent({ teamId: t.id, serverId: r.serverId, restoreId, kind: r.kind })]);
  await engine.idle();
  return getRestore(t, restoreId);
}

/** An uploaded archive (no manifest) holding `dump` as postgres/shop.sql. */
async function uploadedDump(s: Setup, dump: string | Buffer) {
  const dir = mkdtempSync(path.join(scratch, "dump-"));
  mkdirSync(path.join(dir, "postgres"));
  writeFileSync(path.join(dir, "postgres", "shop.sql"), dump);
  const tgz = execFileSync("tar", ["czf", "-", "-C", dir, "postgres"]);
  return importUpload(
    s.t,
    { serverId: s.serverId, destinationIds: [s.destinationId], encrypted: true, fileName: "shop.tar.gz" },
    Readable.from([tgz]),
  );
}

/** Restores an upload's postgres/shop.sql into the new database `target`; resolves with the finished job. */
async function restoreUploaded(s: Setup, backupId: string, target: string) {
  const { id } = await requestDatabaseRestore(s.t, {
    backupId,
    member: "postgres/shop.sql",
    serverId: s.serverId,
    connectionSourceId: s.sourceId,
    targetDatabase: target,
    mode: "new",
  });
  return run(s.t, id);
}

/** Backs up `sourceIds` to the local disk and to a folder on the server (read after the disk). */
async function backedUpTwice(s: Setup, sourceIds = [s.sourceId]) {
  const dir = path.join(scratch, `copies-${randomBytes(4).toString("hex")}`);
  const { id: boxId } = await createDestination(s.t, {
    kind: "server",
    name: "on the box",
    serverId: s.serverId,
    path: dir,
  });
  const b = await backUpNow(engine, s.t, {
    serverId: s.serverId,
    sourceIds,
    destinationIds: [s.destinationId, boxId],
    encrypted: true,
  });
  expect(b.status).toBe("succeeded");
  const file = (i: number) =>
    b.locations[i]!.destinationId === s.destinationId
      ? path.join(env().DATA_DIR, "storage", s.t.id, s.prefix, b.locations[i]!.objectKey)
      : path.join(dir, b.locations[i]!.objectKey);
  const disk = b.locations.findIndex((l) => l.destinationId === s.destinationId);
  return { backupId: b.id, disk: file(disk), box: file(1 - disk) };
}

/** Flips one byte near the end of a stored object. */
function damage(file: string) {
  const data = readFileSync(file);
  data[data.length - 40]! ^= 0x01;
  writeFileSync(file, data);
}

describe("run-restore: databases", () => {
  it("restores into a new database exactly the rows backed up, after the source changed", async () => {
    const s = await setup();
    await withDb(s.database, (c) =>
      c.unsafe(
        `create schema "Ventes Été"; create table "Ventes Été"."T""1" (x int); insert into "Ventes Été"."T""1" values (1), (2), (3); create table empty (x int)`,
      ),
    );
    const original = await digest(s.database);
    const backupId = await backedUp(s);
    await withDb(s.database, (c) => c.unsafe("delete from items where id % 2 = 0; update items set label = 'changed'"));
    const target = `restored_${randomBytes(4).toString("hex")}`;
    const { id } = await requestDatabaseRestore(s.t, {
      backupId,
      member: `postgres/${s.database}.sql`,
      serverId: s.serverId,
      connectionSourceId: s.sourceId,
      targetDatabase: target,
      mode: "new",
    });
    const r = await run(s.t, id);
    expect(r).toMatchObject({ status: "succeeded", error: null, targetDatabase: target, mode: "new" });
    expect(await digest(target)).toEqual(original);
    // pg_dump's COPY tags counted the rows as they loaded: no scan of the tables after.
    expect(r.log.map((l) => l.message)).toContain("Loaded.");
    expect(r.log.map((l) => l.message).at(-1)).toBe(`Restored ${target}: 4 tables, 505 rows.`);
    // What the restore page shows: the database, each table's rows.
    expect(r.restored).toEqual({
      kind: "database",
      database: target,
      tables: 4,
      rows: 505,
      counts: [
        { table: 'Ventes Été.T"1', rows: 3 },
        { table: "public.empty", rows: 0 },
        { table: "public.items", rows: 500 },
        { table: "public.notes", rows: 2 },
      ],
    });
    expect(await scratchDatabases()).not.toContain(scratchName("restore", id));
    expect(await claimRestore(s.t.id, id)).toBeNull(); // a repeated event finds nothing to do

    // A new database must be new: nothing is touched, the job fails saying so.
    const again = await requestDatabaseRestore(s.t, {
      backupId,
      member: `postgres/${s.database}.sql`,
      serverId: s.serverId,
      connectionSourceId: s.sourceId,
      targetDatabase: target,
      mode: "new",
    });
    const refused = await run(s.t, again.id);
    expect(refused).toMatchObject({
      status: "failed",
      error: expect.stringContaining(`Database ${target} already exists`),
    });
    expect(await digest(target)).toEqual(original);
  });

  it("a damaged copy is passed over: the restore loads the next copy, and its log names the damaged one", async () => {
    const s = await setup(20_000);
    const original = await digest(s.database);
    const { backupId, disk, box } = await backedUpTwice(s);
    damage(disk);
    const restore = async () => {
      const { id } = await requestDatabaseRestore(s.t, {
        backupId,
        member: `postgres/${s.database}.sql`,
        serverId: s.serverId,
        connectionSourceId: s.sourceId,
        targetDatabase: `restored_${randomBytes(4).toString("hex")}`,
        mode: "new",
      });
      return run(s.t, id);
    };
    const r = await restore();
    expect(r).toMatchObject({ status: "succeeded", error: null });
    expect(await digest(r.targetDatabase!)).toEqual(original);
    const log = r.log.map((l) => l.message);
    expect(log).toContainEqual(
      expect.stringMatching(
        /^The copy in disk cannot be used\. The backup object cannot be trusted: segment \d+ failed authentication .* Trying the next copy…$/,
      ),
    );
    // The damage is found before the dump is reached: only the intact copy is loaded.
    const loading = log.flatMap((l, i) => (l.startsWith("Loading") ? [i] : []));
    expect(loading).toEqual([log.indexOf("Reading the copy in on the box.") + 1]);

    // With no intact copy left, the restore fails with the damage and leaves nothing behind.
    damage(box);
    const failed = await restore();
    expect(failed).toMatchObject({
      status: "failed",
      error: expect.stringMatching(/segment \d+ failed authentication/),
    });
    expect(await databaseExists(failed.targetDatabase!)).toBe(false);
    expect(await scratchDatabases()).toEqual([]);
  });

  it("replacing asks for the typed name, takes a safety backup of the target, then puts the backed-up rows in place", async () => {
    const s = await setup();
    const original = await digest(s.database);
    const backupId = await backedUp(s);
    await withDb(s.database, (c) => c.unsafe("delete from items where id > 100"));
    const changed = await digest(s.database);
    const input = {
      backupId,
      member: `postgres/${s.database}.sql`,
      serverId: s.serverId,
      connectionSourceId: s.sourceId,
      targetDatabase: s.database,
      mode: "replace" as const,
    };
    await expect(requestDatabaseRestore(s.t, input)).rejects.toMatchObject({
      code: "VALIDATION",
      fieldErrors: { confirm: expect.any(Array) },
    });
    await expect(requestDatabaseRestore(s.t, { ...input, confirm: "wrong" })).rejects.toMatchObject({
      code: "VALIDATION",
    });
    const { id } = await requestDatabaseRestore(s.t, { ...input, confirm: s.database });
    // An application still connected to the database being replaced is disconnected by the swap.
    const app = postgres(dbUrl(s.database), { max: 1, onnotice: () => {} });
    const session = async () => (await app`select pg_backend_pid() as pid`)[0]!.pid as number;
    const before = await session();
    const r = await run(s.t, id);
    expect(r).toMatchObject({ status: "succeeded", error: null });
    expect(await digest(s.database)).toEqual(original);
    expect(await session()).not.toBe(before); // its session was ended; the client reconnected to the restored database
    await app.end();
    expect(await scratchDatabases()).not.toContain(oldName(id));

    // The safety backup holds the changed rows: restored into a new database, they come back.
    expect(r.safetyBackupId).toMatch(/^bkp_/);
    const safety = await getBackup(s.t, r.safetyBackupId!);
    expect(safety).toMatchObject({ status: "succeeded", trigger: "safety", encrypted: true, serverId: s.serverId });
    const check = `safety_${randomBytes(4).toString("hex")}`;
    const fromSafety = await requestDatabaseRestore(s.t, {
      backupId: safety.id,
      member: `postgres/${s.database}.sql`,
      serverId: s.serverId,
      connectionSourceId: s.sourceId,
      targetDatabase: check,
      mode: "new",
    });
    expect((await run(s.t, fromSafety.id)).status).toBe("succeeded");
    expect(await digest(check)).toEqual(changed);
    expect(changed.n).toBe(100);
  });

  it("an uploaded dump, which may add rows with INSERT, is counted once loaded", async () => {
    const s = await setup();
    const upload = await uploadedDump(
      s,
      "CREATE TABLE public.items (id int, label text);\nINSERT INTO public.items VALUES (1, 'one'), (2, 'two');\nCOPY public.items (id, label) FROM stdin;\n3\tthree\n\\.\n",
    );
    const r = await restoreUploaded(s, upload.id, `uploaded_${randomBytes(4).toString("hex")}`);
    expect(r.status).toBe("succeeded");
    expect(r.log.map((l) => l.message)).toContain("Loaded. Counting its rows…");
    expect(r.restored).toMatchObject({ tables: 1, rows: 3, counts: [{ table: "public.items", rows: 3 }] });
  });

  it("a dump failing half-way reports psql's first error and leaves no database behind", async () => {
    const s = await setup();
    // An uploaded archive whose dump breaks after creating and filling a table.
    const upload = await uploadedDump(
      s,
      "CREATE TABLE items (id int, label text);\nINSERT INTO items VALUES (1, 'one');\nTHIS IS NOT SQL;\nINSERT INTO items VALUES (2, 'two');\n",
    );
    const target = `half_${randomBytes(4).toString("hex")}`;
    const r = await restoreUploaded(s, upload.id, target);
    expect(r.status).toBe("failed");
    expect(r.error).toMatch(
      /^Loading the dump into coffer_restore_\w+ failed: psql:<stdin>:3: ERROR: {2}syntax error at or near "THIS"/,
    );
    expect(r.attempts).toBe(1); // a dump that does not load is not retried
    expect(await databaseExists(target)).toBe(false);
    expect(await databaseExists(scratchName("restore", r.id))).toBe(false);
  });

  it("a dump that runs a psql meta-command is refused with its line, before psql runs it, or by psql itself where they read it differently; pg_dump's own dump of it restores", async () => {
    const s = await setup(50);
    const canary = path.join(tmpdir(), `coffer-canary-${randomBytes(6).toString("hex")}`);
    const clean = execFileSync("pg_dump", ["-h", "127.0.0.1", "-p", String(pgPort), "-U", "postgres", s.database], {
      env: { ...process.env, PGPASSWORD: "" },
    }).toString();
    expect(clean).toMatch(/^\\restrict \w+$/m); // pg_dump's own meta-commands pass
    // Without pg_dump's \restrict (psql 15.14+ would refuse the command itself), and right after
    // the first COPY's data, whose lines start with backslashes too.
    const lines = clean.split("\n").filter((l) => !/^\\(un)?restrict /.test(l));
    const at = lines.indexOf("\\.") + 1;
    lines.splice(at, 0, `\\! touch ${canary}`);
    const bad = await restoreUploaded(
      s,
      (await uploadedDump(s, lines.join("\n"))).id,
      `meta_${randomBytes(4).toString("hex")}`,
    );
    expect(bad.status).toBe("failed");
    expect(bad.error).toBe(
      `The dump runs the psql command \\! on line ${at + 1}; Coffer loads only dumps as pg_dump writes them, so it stopped before that line. Restore a backup Coffer made, or remove that line from the dump and upload it again.`,
    );
    expect(bad.attempts).toBe(1);
    expect(existsSync(canary)).toBe(false);
    expect(await databaseExists(bad.targetDatabase!)).toBe(false);
    expect(await scratchDatabases()).toEqual([]);

    // In SJIS, a client-only encoding, 0x81 0x5c is one character: psql reads the string as ended
    // where Coffer's reading (byte by byte) sees an escaped quote, so the command passes Coffer's
    // check. psql 15.18 here runs restricted under Coffer's key and refuses it.
    const hidden = Buffer.concat([
      Buffer.from("SET client_encoding = 'SJIS';\nSELECT E'"),
      Buffer.from([0x81, 0x5c]),
      Buffer.from(`';\n\\! touch ${canary}\nSELECT 1;\n`),
    ]);
    const refused = await restoreUploaded(
      s,
      (await uploadedDump(s, hidden)).id,
      `hidden_${randomBytes(4).toString("hex")}`,
    );
    expect(refused.status).toBe("failed");
    expect(refused.error).toBe(
      "The dump runs a psql command on line 3, which psql refused; Coffer loads only dumps as pg_dump writes them. Restore a backup Coffer made, or remove that line from the dump and upload it again.",
    );
    expect(existsSync(canary)).toBe(false);
    expect(await scratchDatabases()).toEqual([]);

    // pg_dump's own \restrict lines pass (blanked: psql, restricted under Coffer's key, would refuse them).
    const good = await restoreUploaded(s, (await uploadedDump(s, clean)).id, `clean_${randomBytes(4).toString("hex")}`);
    expect(good.status).toBe("succeeded");
    expect(await digest(good.targetDatabase!)).toEqual(await digest(s.database));
    expect(await scratchDatabases()).toEqual([]);
  });

  it("cancelling a running restore stops psql, drops the scratch database and creates nothing", async () => {
    const s = await setup(400_000);
    const backupId = await backedUp(s);
    const target = `cancelled_${randomBytes(4).toString("hex")}`;
    const { id } = await requestDatabaseRestore(s.t, {
      backupId,
      member: `postgres/${s.database}.sql`,
      serverId: s.serverId,
      connectionSourceId: s.sourceId,
      targetDatabase: target,
      mode: "new",
    });
    engine.send([restoreEvent({ teamId: s.t.id, serverId: s.serverId, restoreId: id, kind: "database" })]);
    await expect
      .poll(async () => (await getRestore(s.t, id)).log.some((l) => l.message.startsWith("Loading")), {
        timeout: 30_000,
        interval: 100,
      })
      .toBe(true);
    await cancelRestore(s.t, id);
    await engine.idle();
    const r = await getRestore(s.t, id);
    expect(r).toMatchObject({ status: "cancelled", error: expect.stringContaining("Cancelled by") });
    expect(await databaseExists(target)).toBe(false);
    expect(await databaseExists(scratchName("restore", id))).toBe(false);
  });

  it("a restore whose process died while swapping is dispatched again by the sweeper and finished; it can no longer be cancelled", async () => {
    const s = await setup(10);
    const backupId = await backedUp(s);
    const { id } = await requestDatabaseRestore(s.t, {
      backupId,
      member: `postgres/${s.database}.sql`,
      serverId: s.serverId,
      connectionSourceId: s.sourceId,
      targetDatabase: s.database,
      mode: "replace",
      confirm: s.database,
    });
    // The first attempt loaded and counted its scratch database, started the swap, and died.
    expect(await claimRestore(s.t.id, id)).toBe(1);
    const loaded = scratchName("restore", id);
    await admin.unsafe(`create database ${loaded}`);
    await withDb(loaded, (c) =>
      c.unsafe(
        "create table items (id int primary key, label text); insert into items select g, 'loaded ' || g from generate_series(1, 7) g",
      ),
    );
    const expected = await digest(loaded);
    await setRestoreRow(id, {
      swapStartedAt: new Date(),
      scratchDatabase: loaded,
      scratchSourceId: s.sourceId,
      heartbeatAt: new Date(Date.now() - 10 * 60_000),
    });
    await expect(cancelRestore(s.t, id)).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("being put in place"),
    });
    await expect(deleteSource(s.t, s.sourceId)).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("still has a scratch database"),
    });
    // The sweeper finds it without progress and dispatches it again instead of failing it.
    const swept = await sweepRestoresAllTeams();
    expect(swept.requeue).toContainEqual({ restoreId: id, teamId: s.t.id, serverId: s.serverId, kind: "database" });
    expect((await getRestore(s.t, id)).status).toBe("running");
    engine.send([restoreEvent({ teamId: s.t.id, serverId: s.serverId, restoreId: id, kind: "database" })]);
    await engine.idle();
    const r = await getRestore(s.t, id);
    expect(r).toMatchObject({ status: "succeeded", attempts: 2, error: null });
    expect(await digest(s.database)).toEqual(expected);
    expect(await scratchDatabases()).toEqual([]);
    expect(r.log.map((l) => l.message)).toContain(`Replacing ${s.database} with it.`);
  });

  it("the sweeper leaves a job that a retry took up again after it was found stale, with its scratch database", async () => {
    const s = await setup(10);
    const backupId = await backedUp(s);
    const { id } = await requestDatabaseRestore(s.t, {
      backupId,
      member: `postgres/${s.database}.sql`,
      serverId: s.serverId,
      connectionSourceId: s.sourceId,
      targetDatabase: `restored_${randomBytes(4).toString("hex")}`,
      mode: "new",
    });
    // The retry claimed it and is loading its scratch database, heartbeat fresh.
    expect(await claimRestore(s.t.id, id)).toBe(1);
    const loading = scratchName("restore", id);
    await admin.unsafe(`create database ${loading}`);
    await setRestoreRow(id, { scratchDatabase: loading, scratchSourceId: s.sourceId, heartbeatAt: new Date() });
    const foundStaleAt = new Date(Date.now() - 2 * 60_000);
    expect((await failRestore(s.t.id, id, "stale", { staleAt: foundStaleAt })).status).toBe("unchanged");
    expect(await getRestore(s.t, id)).toMatchObject({ status: "running", error: null });
    expect(await databaseExists(loading)).toBe(true);
    // Still stale when it fails it: failed, its scratch database dropped.
    expect((await failRestore(s.t.id, id, "stale", { staleAt: new Date(Date.now() + 2 * 60_000) })).status).toBe(
      "failed",
    );
    expect(await databaseExists(loading)).toBe(false);
  });

  it("another team can neither restore, verify, nor target this team's server; viewers cannot restore", async () => {
    const a = await setup(10);
    const backupId = await backedUp(a);
    const b = await setup(10);
    const member = `postgres/${a.database}.sql`;
    const target = `x_${randomBytes(4).toString("hex")}`;
    // B with A's backup; A's backup onto B's server; A's backup through B's connection.
    await expect(
      requestDatabaseRestore(b.t, {
        backupId,
        member,
        serverId: b.serverId,
        connectionSourceId: b.sourceId,
        targetDatabase: target,
        mode: "new",
      }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(requestVerification(b.t, { backupId })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      requestDatabaseRestore(a.t, {
        backupId,
        member,
        serverId: b.serverId,
        connectionSourceId: a.sourceId,
        targetDatabase: target,
        mode: "new",
      }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      requestDatabaseRestore(a.t, {
        backupId,
        member,
        serverId: a.serverId,
        connectionSourceId: b.sourceId,
        targetDatabase: target,
        mode: "new",
      }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      requestDirectoryRestore(a.t, {
        backupId,
        members: ["files/x"],
        serverId: b.serverId,
        targetPath: "/tmp/x",
        mode: "fresh",
      }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    const viewer = { ...(await a.user.team("viewer")), role: "viewer" as const };
    await expect(
      requestDatabaseRestore(viewer, {
        backupId,
        member,
        serverId: a.serverId,
        connectionSourceId: a.sourceId,
        targetDatabase: target,
        mode: "new",
      }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(requestVerification(viewer, { backupId })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await listRestores(a.t, backupId)).toEqual([]);
    expect(await databaseExists(target)).toBe(false);
  });
});

describe("run-verification", () => {
  it("verifies a good backup: every table counted in a scratch database, every file checked, the scratch database dropped", async () => {
    const s = await setup();
    const folder = mkdtempSync(path.join(scratch, "files-"));
    writeFileSync(path.join(folder, "a.txt"), "alpha\n");
    const { id: dirId } = await createSource(s.t, {
      serverId: s.serverId,
      kind: "directory",
      name: "docs",
      paths: [folder],
      excludes: [],
    });
    const backupId = await backedUp(s, [s.sourceId, dirId]);
    const { id } = await requestVerification(s.t, { backupId });
    const r = await run(s.t, id);
    expect(r).toMatchObject({
      status: "succeeded",
      error: null,
      result: { tables: 2, files: 2, differences: [], databases: [{ database: s.database, tables: 2, rows: 502 }] },
    });
    const b = await getBackup(s.t, backupId);
    expect(b.verifiedAt).toBeInstanceOf(Date);
    expect(b.verification).toMatchObject({ status: "verified", restoreId: id, tables: 2, files: 2 });
    expect(await scratchDatabases()).toEqual([]);
  });

  it("verifies a folder holding a hard link (tar stores the second name as a link), and reports a record that differs", async () => {
    const s = await setup(10);
    const folder = mkdtempSync(path.join(scratch, "linked-"));
    writeFileSync(path.join(folder, "a"), "one file, two names\n");
    linkSync(path.join(folder, "a"), path.join(folder, "b"));
    const backupId = await backedUp(s, [await folderSource(s, folder)]);
    const { id } = await requestVerification(s.t, { backupId });
    expect(await run(s.t, id)).toMatchObject({
      status: "succeeded",
      error: null,
      result: { files: 2, differences: [] },
    });
    expect((await getBackup(s.t, backupId)).verification).toMatchObject({
      status: "verified",
      restoreId: id,
      files: 2,
    });
    // Restored with both names, still one file.
    const into = path.join(mkdtempSync(path.join(scratch, "into-")), "restored");
    expect(await restoreFolder(s, backupId, folder, into)).toMatchObject({ status: "succeeded", error: null });
    for (const f of ["a", "b"]) expect(readFileSync(path.join(into, folder, f), "utf8")).toBe("one file, two names\n");
    expect(statSync(path.join(into, folder, "b")).ino).toBe(statSync(path.join(into, folder, "a")).ino);
    // Each name is held to the manifest's record of it: the link (whichever name tar stored second) too.
    const manifest = (await getBackup(s.t, backupId)).manifest as { entries: { sha256: string }[] };
    for (const e of manifest.entries) e.sha256 = "0".repeat(64);
    await setBackupRow(backupId, { manifest });
    expect((await getBackup(s.t, backupId)).verifiedAt).toBeInstanceOf(Date);
    const again = await run(s.t, (await requestVerification(s.t, { backupId })).id);
    expect(again.status).toBe("failed");
    expect((await getBackup(s.t, backupId)).verifiedAt).toBeNull(); // no longer the latest verified one
    expect(again.result!.differences.toSorted()).toEqual(
      ["a", "b"].map((f) => `files${folder}/${f}: its SHA-256 differs from the manifest's.`),
    );
  });

  it("fails with the exact difference when a table's count differs from the manifest", async () => {
    const s = await setup();
    const backupId = await backedUp(s);
    const manifest = (await getBackup(s.t, backupId)).manifest as {
      postgres: { tables: { table: string; rows: number }[] }[];
    };
    manifest.postgres[0]!.tables.find((x) => x.table === "items")!.rows = 499;
    await setBackupRow(backupId, { manifest });
    const { id } = await requestVerification(s.t, { backupId });
    const r = await run(s.t, id);
    expect(r.status).toBe("failed");
    expect(r.result!.differences).toEqual([
      `${s.database}: table public.items has 500 rows after the restore; the manifest counts 499.`,
    ]);
    const b = await getBackup(s.t, backupId);
    expect(b.verifiedAt).toBeNull();
    expect(b.verification).toMatchObject({ status: "failed", restoreId: id });
    expect(await scratchDatabases()).toEqual([]);
  });

  it("fails when the stored object was tampered with, and drops the scratch database", async () => {
    const s = await setup(20_000);
    const backupId = await backedUp(s);
    const b = await getBackup(s.t, backupId);
    const stored = path.join(env().DATA_DIR, "storage", s.t.id, s.prefix, b.locations[0]!.objectKey);
    const data = readFileSync(stored);
    data[data.length - 40]! ^= 0x01;
    writeFileSync(stored, data);
    expect(sha256(data)).not.toBe(b.sha256);
    const { id } = await requestVerification(s.t, { backupId });
    const r = await run(s.t, id);
    expect(r.status).toBe("failed");
    expect(r.result!.differences.join("\n")).toMatch(
      /The backup object cannot be trusted: segment \d+ failed authentication .*\. It was read from the copy in disk\.$/m,
    );
    expect((await getBackup(s.t, backupId)).verifiedAt).toBeNull();
    expect(await scratchDatabases()).toEqual([]);
  });

  it("fails when a dump runs a psql meta-command, naming its line; the command never runs", async () => {
    const s = await setup(10);
    const canary = path.join(tmpdir(), `coffer-canary-${randomBytes(6).toString("hex")}`);
    const dump = Buffer.from(
      `CREATE TABLE items (id int, label text);\nCOPY items FROM stdin;\n1\t\\N\n\\.\nSELECT 1; \\! touch ${canary}\n`,
    );
    const dir = mkdtempSync(path.join(scratch, "meta-verify-"));
    mkdirSync(path.join(dir, "postgres"));
    writeFileSync(path.join(dir, "postgres", "shop.sql"), dump);
    const now = new Date().toISOString();
    const manifest = {
      format: 1,
      coffer: "test",
      backupId: "bkp_uploaded",
      server: "box",
      startedAt: now,
      finishedAt: now,
      sources: [],
      entries: [{ path: "postgres/shop.sql", size: dump.length, sha256: sha256(dump) }],
      postgres: [
        {
          source: s.sourceId,
          database: "shop",
          path: "postgres/shop.sql",
          serverVersion: "15",
          pgDumpVersion: "15",
          snapshot: "x",
          tables: [{ schema: "public", table: "items", rows: 1 }],
        },
      ],
    };
    writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest));
    const tgz = execFileSync("tar", ["czf", "-", "-C", dir, "manifest.json", "postgres"]);
    const upload = await importUpload(
      s.t,
      { serverId: s.serverId, destinationIds: [s.destinationId], encrypted: true, fileName: "shop.tar.gz" },
      Readable.from([tgz]),
    );
    const { id } = await requestVerification(s.t, { backupId: upload.id });
    const r = await run(s.t, id);
    expect(r.status).toBe("failed");
    expect(r.result!.differences).toEqual([
      "shop: the dump does not load: The dump runs the psql command \\! on line 5; Coffer loads only dumps as pg_dump writes them, so it stopped before that line. Restore a backup Coffer made, or remove that line from the dump and upload it again.",
    ]);
    expect(existsSync(canary)).toBe(false);
    expect((await getBackup(s.t, upload.id)).verification).toMatchObject({ status: "failed", restoreId: id });
    expect(await scratchDatabases()).toEqual([]);
  });

  it("an upload without a manifest whose own manifest.json is huge: passed over while it streams, never held in memory, and reported", async () => {
    const s = await setup(10);
    const dir = mkdtempSync(path.join(scratch, "late-manifest-"));
    writeFileSync(path.join(dir, "data.txt"), "hello\n");
    // 200 MiB of text that barely compresses, after another file: no Coffer archive, so no recorded manifest.
    writeFileSync(path.join(dir, "manifest.json"), randomBytes(150 * 2 ** 20).toString("base64"));
    const tgz = execFileSync("tar", ["-I", "gzip -1", "-cf", "-", "-C", dir, "data.txt", "manifest.json"], {
      maxBuffer: 2 ** 28,
    });
    const upload = await importUpload(
      s.t,
      { serverId: s.serverId, destinationIds: [s.destinationId], encrypted: true, fileName: "other-tool.tar.gz" },
      Readable.from([tgz]),
    );
    expect((await getBackup(s.t, upload.id)).manifest).toBeNull();
    const { id } = await requestVerification(s.t, { backupId: upload.id });
    const idle = process.memoryUsage().arrayBuffers;
    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 5);
    const r = await run(s.t, id).finally(() => clearInterval(sampler));
    expect(r.status).toBe("failed");
    expect(r.result).toMatchObject({
      files: 1,
      differences: [
        "manifest.json is 200.0 MiB, more than the 64.0 MiB Coffer reads from an archive, so it was not read: only the archive's integrity was checked.",
      ],
    });
    // Read whole it would take 200 MiB, twice that once joined. Streamed, buffers on the way come and
    // go; garbage not yet collected (other runs of the engine's too) stays far below that.
    expect(peak - idle).toBeLessThan(100 * 2 ** 20);
  });

  it("an archive without a manifest is unpacked no further than UPLOAD_MAX_EXPANSION times its size, for verifications and restores", async () => {
    const s = await setup(10);
    const dir = mkdtempSync(path.join(scratch, "bomb-"));
    mkdirSync(path.join(dir, "files", "srv"), { recursive: true });
    writeFileSync(path.join(dir, "files", "srv", "data.bin"), randomBytes(2 ** 20));
    const tgz = execFileSync("tar", ["czf", "-", "-C", dir, "files"], { maxBuffer: 2 ** 24 });
    const upload = await importUpload(
      s.t,
      { serverId: s.serverId, destinationIds: [s.destinationId], encrypted: false, fileName: "other-tool.tar.gz" },
      Readable.from([tgz]),
    );
    // The stored copy becomes a gzip bomb of the same size (512 MiB of zeros, padded): one stored
    // before the upload limits, or changed on the disk since.
    const objects = readdirSync(path.join(env().DATA_DIR, "storage", s.t.id), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.includes(upload.id))
      .map((e) => path.join(e.parentPath, e.name));
    expect(objects).toHaveLength(1);
    const bomb = gzipSync(Buffer.alloc(2 ** 29), { level: 9 });
    expect(bomb.length).toBeLessThan(tgz.length);
    const stored = Buffer.concat([bomb, randomBytes(tgz.length - bomb.length)]);
    writeFileSync(objects[0]!, stored);
    // As recorded when stored (else the copy's SHA-256 would give the change away at its end).
    const sha256 = createHash("sha256").update(stored).digest("hex");
    await setLocationRow(upload.id, s.destinationId, { sha256 });
    await setBackupRow(upload.id, { sha256 });
    const refused = expect.stringMatching(
      /^The archive expands to more than 200 times its size \(.*UPLOAD_MAX_EXPANSION\), so Coffer stopped reading it before it could (verify|restore) it/,
    );

    const { id } = await requestVerification(s.t, { backupId: upload.id });
    const began = performance.now();
    expect(await run(s.t, id)).toMatchObject({ status: "failed", error: refused });
    const target = path.join(mkdtempSync(path.join(scratch, "bomb-target-")), "out");
    const restore = await requestDirectoryRestore(s.t, {
      backupId: upload.id,
      members: ["files/srv"],
      serverId: s.serverId,
      targetPath: target,
      mode: "fresh",
    });
    expect(await run(s.t, restore.id)).toMatchObject({ status: "failed", error: refused });
    expect(performance.now() - began).toBeLessThan(20_000); // stopped early, not after 512 MiB of zeros twice
    expect(existsSync(target)).toBe(false);
  });

  it("a scratch database left by a killed run is found and dropped by the sweeper", async () => {
    const s = await setup(10);
    const backupId = await backedUp(s);
    const { id } = await requestVerification(s.t, { backupId });
    // The process died while loading: the job is "running" without progress, its scratch database exists.
    const name = scratchName("verify", id);
    await admin.unsafe(`create database ${name}`);
    await setRestoreRow(id, {
      status: "running",
      heartbeatAt: new Date(Date.now() - 10 * 60_000),
      scratchDatabase: name,
      scratchSourceId: s.sourceId,
    });
    const swept = await sweepRestoresAllTeams();
    expect(swept.failed).toBeGreaterThanOrEqual(1);
    expect(await databaseExists(name)).toBe(false);
    const r = await getRestore(s.t, id);
    expect(r).toMatchObject({ status: "failed", error: expect.stringContaining("stopped making progress") });
    expect(r.scratchDroppedAt).toBeInstanceOf(Date);
    // Nothing left for the next sweep.
    expect((await sweepRestoresAllTeams()).dropped).toBe(0);
  });

  it("a scheduled backup is verified after it succeeds, unless its schedule says not to", async () => {
    const s = await setup(10);
    for (const verify of [true, false]) {
      const { id: scheduleId } = await createSchedule(s.t, {
        name: `nightly-${verify}`,
        serverId: s.serverId,
        sourceIds: [s.sourceId],
        destinationIds: [s.destinationId],
        when: { kind: "daily", time: "02:00" },
        timezone: "UTC",
        encrypted: true,
        enabled: false,
        verify,
        retention: DEFAULT_POLICY,
      });
      const { id } = await requestBackup(s.t, {
        serverId: s.serverId,
        sourceIds: [s.sourceId],
        destinationIds: [s.destinationId],
        encrypted: true,
      });
      await setBackupRow(id, { scheduleId, trigger: "schedule" });
      engine.send([backupEvent({ teamId: s.t.id, serverId: s.serverId, backupId: id })]);
      await engine.idle();
      expect((await listRestores(s.t, id)).map((j) => [j.kind, j.status])).toEqual(
        verify ? [["verify", "succeeded"]] : [],
      );
      expect((await getBackup(s.t, id)).verifiedAt !== null).toBe(verify);
    }
  });

  it("Back up now verifies when asked (as on a schedule's card, which offers the schedule's setting), not otherwise", async () => {
    const s = await setup(10);
    for (const verify of [true, false]) {
      const { id } = await backUpNow(engine, s.t, {
        serverId: s.serverId,
        sourceIds: [s.sourceId],
        destinationIds: [s.destinationId],
        encrypted: true,
        verify,
        verifySourceId: s.sourceId,
      });
      expect((await listRestores(s.t, id)).map((j) => [j.kind, j.status, j.connectionSourceId])).toEqual(
        verify ? [["verify", "succeeded", s.sourceId]] : [],
      );
      expect(await getBackup(s.t, id)).toMatchObject({ verify, verifiedAt: verify ? expect.any(Date) : null });
      // The run's step repeated (its answer lost): the same verification, not a second one.
      const again = await verificationAfterBackup(s.t.id, id);
      expect(again?.id).toBe(verify ? (await listRestores(s.t, id))[0]!.id : undefined);
      expect(await listRestores(s.t, id)).toHaveLength(verify ? 1 : 0);
    }
    // Deleting the source a queued backup would verify over clears that choice; nothing else changes.
    const { id: connId } = await createSource(s.t, {
      serverId: s.serverId,
      kind: "postgres",
      name: "verify over",
      pgHost: "127.0.0.1",
      pgPort,
      pgDatabase: s.database,
      pgUser: "postgres",
      pgSslmode: "disable",
    });
    const queued = await requestBackup(s.t, {
      serverId: s.serverId,
      sourceIds: [s.sourceId],
      destinationIds: [s.destinationId],
      encrypted: true,
      verify: true,
      verifySourceId: connId,
    });
    await deleteSource(s.t, connId);
    expect(await getBackup(s.t, queued.id)).toMatchObject({ status: "queued", verify: true, verifySourceId: null });
    // A verification connection must be one of the team's PostgreSQL sources.
    const other = await setup(10);
    await expect(
      requestBackup(s.t, {
        serverId: s.serverId,
        sourceIds: [s.sourceId],
        destinationIds: [s.destinationId],
        encrypted: true,
        verify: true,
        verifySourceId: other.sourceId,
      }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("a queued job that is cancelled never runs", async () => {
    const s = await setup(10);
    const backupId = await backedUp(s);
    const { id } = await requestVerification(s.t, { backupId });
    await cancelRestore(s.t, id);
    const r = await run(s.t, id);
    expect(r).toMatchObject({ status: "cancelled", startedAt: null });
    await expect(cancelRestore(s.t, id)).rejects.toMatchObject({ code: "CONFLICT" });
  });
});

/** A directory source of `folder` on the setup's server. */
async function folderSource(s: Setup, folder: string) {
  const { id } = await createSource(s.t, {
    serverId: s.serverId,
    kind: "directory",
    name: "site",
    paths: [folder],
    excludes: [],
  });
  return id;
}

/** Restores `folder` of the backup into the fresh folder `into` and runs the job. */
async function restoreFolder(s: Setup, backupId: string, folder: string, into: string) {
  const { id } = await requestDirectoryRestore(s.t, {
    backupId,
    members: [`files${folder}`],
    serverId: s.serverId,
    targetPath: into,
    mode: "fresh",
  });
  return run(s.t, id);
}

describe("run-restore: directories", () => {
  it("restores a backed-up folder into a fresh folder on the server", async () => {
    const s = await setup(10);
    const folder = mkdtempSync(path.join(scratch, "site-"));
    writeFileSync(path.join(folder, "index.html"), "<h1>hi</h1>\n");
    mkdirSync(path.join(folder, "img"));
    writeFileSync(path.join(folder, "img", "logo.bin"), randomBytes(300_000));
    const dirId = await folderSource(s, folder);
    const into = path.join(mkdtempSync(path.join(scratch, "into-")), "restored");
    const r = await restoreFolder(s, await backedUp(s, [dirId]), folder, into);
    expect(r).toMatchObject({ status: "succeeded", error: null });
    expect(r.restored).toEqual({ kind: "directory", path: into, files: 2, bytes: 300_000 + 12 });
    for (const f of ["index.html", "img/logo.bin"])
      expect(sha256(readFileSync(path.join(into, folder, f)))).toBe(sha256(readFileSync(path.join(folder, f))));
  });
  it("a folder is restored from the next copy when the first is cut short", async () => {
    const s = await setup(10);
    const folder = mkdtempSync(path.join(scratch, "site-"));
    writeFileSync(path.join(folder, "big.bin"), randomBytes(400_000));
    const { backupId, disk } = await backedUpTwice(s, [await folderSource(s, folder)]);
    writeFileSync(disk, readFileSync(disk).subarray(0, 200_000));
    const into = path.join(mkdtempSync(path.join(scratch, "into-")), "restored");
    const r = await restoreFolder(s, backupId, folder, into);
    expect(r).toMatchObject({ status: "succeeded", error: null });
    expect(sha256(readFileSync(path.join(into, folder, "big.bin")))).toBe(
      sha256(readFileSync(path.join(folder, "big.bin"))),
    );
    expect(r.log.map((l) => l.message)).toContainEqual(expect.stringMatching(/^The copy in disk cannot be used\. /));
  });
});

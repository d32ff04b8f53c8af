import "server-only";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { connectSsh, localReach, type Reach, type SshConnection } from "@/lib/reach";
import { startPgCluster, type PgCluster } from "@/test/pg-cluster";
import { processesMatching, processesOf, waitUntilGone } from "@/test/processes";
import { startSshd, type TestSshd } from "@/test/servers/sshd";
import { pathWithout, withPath } from "@/test/hidden-tools";
import type { CompressionSetting } from "../compression";
import { parseManifest, type Manifest } from "../manifest";
import { startArchive, type ArchiveJob, type ArchiveSource, type PostgresArchiveSource } from ".";

let cluster: PgCluster;
let sshd: TestSshd;
let ssh: SshConnection;
let local: Reach;
let root: string;
let srcDir: string;

const psql = (db: string, sql: string) =>
  execFileSync(
    "psql",
    [
      "-X",
      "-q",
      "-A",
      "-t",
      "-v",
      "ON_ERROR_STOP=1",
      "-h",
      "127.0.0.1",
      "-p",
      String(cluster.port),
      "-U",
      "postgres",
      "-c",
      sql,
    ],
    {
      env: { ...process.env, PGDATABASE: db },
    },
  )
    .toString()
    .trim();
const ident = (s: string) => `"${s.replaceAll('"', '""')}"`;
const safe = (s: string) => s.replace(/[/\\]/g, "_");
const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;

function pgSource(database: string, extra: Partial<PostgresArchiveSource> = {}): PostgresArchiveSource {
  return {
    kind: "postgres",
    id: `src_${database.replace(/\W/g, "")}${randomBytes(3).toString("hex")}`,
    name: `db ${database}`,
    host: "127.0.0.1",
    port: cluster.port,
    database,
    user: "postgres",
    sslmode: "disable",
    ...extra,
  };
}

function newWorkDir(): string {
  return mkdtempSync(path.join(root, "work-"));
}
const leftovers = (workDir: string) => readdirSync(workDir).filter((n) => n.startsWith("coffer-"));
/** Bytes of compressed SQL spooled so far in the run's private folder. */
const spoolBytes = (workDir: string) =>
  leftovers(workDir).reduce((n, d) => {
    const spool = path.join(workDir, d, "dump-0.sql.gz");
    return n + (existsSync(spool) ? statSync(spool).size : 0);
  }, 0);

function job(reach: Reach, workDir: string, sources: ArchiveSource[], extra: Partial<ArchiveJob> = {}): ArchiveJob {
  return {
    reach,
    workDir,
    serverName: "test-server",
    backupId: `bk_${randomBytes(6).toString("hex")}`,
    sources,
    cofferVersion: "0.1.0-test",
    ...extra,
  };
}

/** Writes the stream to a file, then extracts it; returns the manifest and the folder. */
async function saveAndExtract(stream: Readable): Promise<{ file: string; out: string; members: string[] }> {
  const dir = mkdtempSync(path.join(root, "out-"));
  const file = path.join(dir, "backup.tar.gz");
  await pipeline(stream, createWriteStream(file));
  const out = path.join(dir, "x");
  mkdirSync(out);
  execFileSync("tar", ["xzf", file, "-C", out]);
  const members = execFileSync("tar", ["tzf", file]).toString().split("\n").filter(Boolean);
  return { file, out, members };
}

const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** What Python's tarfile reads in the .tar.gz: every member's name, and size and SHA-256 for regular files. */
function pythonMembers(file: string): { name: string; size?: number; sha256?: string }[] {
  const script = `import hashlib, json, sys, tarfile
out = []
with tarfile.open(sys.argv[1], "r:gz") as t:
    for m in t:
        if m.isfile():
            out.append({"name": m.name, "size": m.size, "sha256": hashlib.sha256(t.extractfile(m).read()).hexdigest()})
        else:
            out.append({"name": m.name})
print(json.dumps(out))`;
  return JSON.parse(execFileSync("python3", ["-c", script, file]).toString()) as ReturnType<typeof pythonMembers>;
}

/** The archive opens everywhere a user would open it: `gzip -t`, `gzip -d` then `tar`, Python's tarfile; each member matches the manifest. */
function expectReadableEverywhere(file: string, manifest: Manifest) {
  execFileSync("gzip", ["-t", file]);
  const tarBytes = execFileSync("gzip", ["-dc", file], { maxBuffer: 1024 * 1024 * 1024 });
  const names = execFileSync("tar", ["tf", "-"], { input: tarBytes })
    .toString()
    .split("\n")
    .filter(Boolean)
    .map((n) => n.replace(/\/$/, "")); // tar lists folders with a slash, Python without
  const py = pythonMembers(file);
  expect(py.map((m) => m.name)).toEqual(names);
  expect(names[0]).toBe("manifest.json");
  const files = new Map(py.filter((m) => m.sha256 && m.name !== "manifest.json").map((m) => [m.name, m]));
  expect([...files.keys()].sort()).toEqual(manifest.entries.map((e) => e.path).sort());
  for (const e of manifest.entries) expect(files.get(e.path), e.path).toMatchObject({ size: e.size, sha256: e.sha256 });
}

function rowsOf(db: string, table: string) {
  return psql(db, `select coalesce(string_agg(t::text, ',' order by t::text), '') from ${table} t`);
}

async function expectFailure(run: { stream: Readable; done: Promise<unknown> }) {
  const streamResult = pipeline(run.stream, createWriteStream("/dev/null")).then(
    () => "ended",
    (e: unknown) => e,
  );
  const error = await run.done.then(
    () => {
      throw new Error("expected the backup to fail");
    },
    (e: unknown) => e,
  );
  expect(await streamResult).not.toBe("ended");
  return error as Error;
}

// The int-pglite project runs the same files again; this suite needs no app database, so once is enough
// (twice in parallel would also confuse the process checks).
describe("backup archives", () => {
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), "coffer-archive-"));
    [cluster, sshd] = await Promise.all([startPgCluster(), startSshd()]);
    ssh = await connectSsh({
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKey: sshd.privateKey,
      allowPrivateNetworks: true,
      connectTimeoutMs: 10_000,
    });
    local = localReach();

    psql("postgres", "create database shop");
    psql(
      "shop",
      `create table customers (id int primary key, name text);
       insert into customers values (1, 'Ada'), (2, 'Grace'), (3, 'O''Brien');
       create table "OrderLines" (id serial primary key, "Customer" int references customers, amount numeric);
       insert into "OrderLines" ("Customer", amount) select 1 + g % 3, g * 1.5 from generate_series(1, 250) g;
       create schema billing;
       create table billing.invoices (no text primary key, paid boolean);
       insert into billing.invoices values ('A-1', true), ('A-2', false);`,
    );

    srcDir = path.join(root, "src", "data");
    mkdirSync(path.join(srcDir, "sub", "deeper"), { recursive: true });
    writeFileSync(path.join(srcDir, "a.txt"), "hello\n");
    writeFileSync(path.join(srcDir, "sub", "b.bin"), randomBytes(100_000));
    writeFileSync(path.join(srcDir, "sub", "deeper", "c d é.txt"), "nested\n");
    writeFileSync(path.join(srcDir, "app.log"), "excluded\n");
    writeFileSync(path.join(srcDir, "sub", "deeper", "trace.log"), "excluded too\n");
    mkdirSync(path.join(srcDir, "cache"));
    writeFileSync(path.join(srcDir, "cache", "tmp.bin"), "cached\n");
    symlinkSync("sub/b.bin", path.join(srcDir, "link"));
  }, 120_000);

  afterAll(async () => {
    await ssh?.reach.close();
    await local?.close();
    await sshd?.stop();
    await cluster?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const reaches: [string, () => Reach][] = [
    ["local", () => local],
    ["ssh", () => ssh.reach],
  ];

  describe.each(reaches)("archive over %s", (_name, getReach) => {
    it("streams a valid .tar.gz: manifest first, exact row counts, checksums, excludes, symlinks, restorable SQL", async () => {
      const workDir = newWorkDir();
      const db = pgSource("shop");
      const files: ArchiveSource = {
        kind: "directory",
        id: "src_files",
        name: "site",
        paths: [srcDir, `${srcDir}/sub/`],
        excludes: ["*.log", `${srcDir}/cache`],
      };
      const steps: string[] = [];
      const run = await startArchive(job(getReach(), workDir, [db, files], { onStep: (m) => steps.push(m) }));
      const [{ file, out, members }, manifest] = await Promise.all([saveAndExtract(run.stream), run.done]);

      expect(members[0]).toBe("manifest.json");
      const onDisk = parseManifest(readFileSync(path.join(out, "manifest.json")));
      expect(onDisk).toEqual(manifest);
      expect(manifest).toMatchObject({ format: 1, coffer: "0.1.0-test", server: "test-server" });
      expect(manifest.compression).toEqual({ setting: "fast", tool: "igzip", level: 1 });
      expectReadableEverywhere(file, manifest);
      expect(Date.parse(manifest.finishedAt)).toBeGreaterThanOrEqual(Date.parse(manifest.startedAt));
      expect(JSON.stringify(manifest)).not.toContain("PGPASSWORD");

      // Row counts: the real ones.
      const [pg] = manifest.postgres;
      expect(pg).toMatchObject({ source: db.id, database: "shop", path: "postgres/shop.sql" });
      expect(pg!.serverVersion).toMatch(/^15\./);
      expect(pg!.pgDumpVersion).toMatch(/pg_dump \(PostgreSQL\) \d+/);
      expect(pg!.tables).toEqual([
        { schema: "billing", table: "invoices", rows: 2 },
        { schema: "public", table: "OrderLines", rows: 250 },
        { schema: "public", table: "customers", rows: 3 },
      ]);

      // Every entry matches the extracted bytes; every extracted regular file is an entry.
      for (const e of manifest.entries) {
        expect(sha(path.join(out, e.path)), e.path).toBe(e.sha256);
        expect(lstatSync(path.join(out, e.path)).size, e.path).toBe(e.size);
      }
      const rel = srcDir.slice(1);
      expect(manifest.entries.map((e) => e.path).sort()).toEqual(
        [
          "postgres/shop.sql",
          `files/${rel}/a.txt`,
          `files/${rel}/sub/b.bin`,
          `files/${rel}/sub/deeper/c d é.txt`,
        ].sort(),
      );
      expect(existsSync(path.join(out, "files", rel, "app.log"))).toBe(false);
      expect(existsSync(path.join(out, "files", rel, "sub", "deeper", "trace.log"))).toBe(false);
      expect(existsSync(path.join(out, "files", rel, "cache"))).toBe(false);
      expect(lstatSync(path.join(out, "files", rel, "link")).isSymbolicLink()).toBe(true);
      expect(readlinkSync(path.join(out, "files", rel, "link"))).toBe("sub/b.bin");
      // Nothing of the private folder leaks into the archive.
      expect(members.filter((m) => !m.startsWith("files/") && !m.startsWith("postgres/"))).toEqual(["manifest.json"]);

      // The SQL loads into a fresh database with the same rows.
      const copy = `restore_${randomBytes(4).toString("hex")}`;
      psql("postgres", `create database ${copy}`);
      execFileSync(
        "psql",
        [
          "-X",
          "-q",
          "-v",
          "ON_ERROR_STOP=1",
          "-h",
          "127.0.0.1",
          "-p",
          String(cluster.port),
          "-U",
          "postgres",
          "-d",
          copy,
          "-f",
          path.join(out, "postgres", "shop.sql"),
        ],
        { stdio: "pipe" },
      );
      for (const t of ["customers", '"OrderLines"', "billing.invoices"])
        expect(rowsOf(copy, t), t).toBe(rowsOf("shop", t));

      expect(leftovers(workDir)).toEqual([]);
      expect(steps.join("\n")).toMatch(/Private folder removed/);
    });

    it("a work folder inside the source, named with glob characters and reached through a link, stays out of the archive", async () => {
      const site = mkdtempSync(path.join(root, "site-"));
      writeFileSync(path.join(site, "index.html"), "<h1>hi</h1>\n");
      const inside = path.join(site, "work [1]");
      mkdirSync(inside);
      const workDir = path.join(root, `work-link-${randomBytes(3).toString("hex")}`);
      symlinkSync(inside, workDir);
      const run = await startArchive(
        job(getReach(), workDir, [
          pgSource("shop"),
          { kind: "directory", id: "src_site", name: "site", paths: [site], excludes: [] },
        ]),
      );
      const [{ members }, manifest] = await Promise.all([saveAndExtract(run.stream), run.done]);
      const rel = site.slice(1);
      expect(manifest.entries.map((e) => e.path).sort()).toEqual([`files/${rel}/index.html`, "postgres/shop.sql"]);
      expect(members.filter((m) => /work \[1\]\/./.test(m))).toEqual([]); // the work folder, empty
      expect(leftovers(workDir)).toEqual([]);
    });

    it("counts rows and dumps from one snapshot: rows committed while pg_dump waits are in neither", async () => {
      const name = `snap_${randomBytes(3).toString("hex")}`;
      psql("postgres", `create database ${name}`);
      psql(
        name,
        "create table gate (x int); create table events (id serial primary key, what text); insert into events (what) select 'before' from generate_series(1, 100);",
      );
      // A session holding ACCESS EXCLUSIVE on `gate` makes pg_dump (and the count) wait after the snapshot was exported.
      const holder = execFileSync("sh", [
        "-c",
        `(echo 'begin; lock table gate in access exclusive mode; select pg_sleep(30);' | PGDATABASE=${name} psql -X -q -h 127.0.0.1 -p ${cluster.port} -U postgres >/dev/null 2>&1 &) ; echo started`,
      ]);
      expect(holder.toString()).toContain("started");
      await waitFor(
        () =>
          psql(
            name,
            "select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'gate' and l.mode = 'AccessExclusiveLock' and l.granted",
          ) === "1",
      );

      const workDir = newWorkDir();
      const j = job(getReach(), workDir, [pgSource(name)]);
      const run = await startArchive(j);
      const saved = saveAndExtract(run.stream);
      await waitFor(
        () =>
          psql(
            name,
            `select count(*) from pg_stat_activity where application_name = 'coffer:${j.backupId}' and wait_event_type = 'Lock' and query ilike 'LOCK TABLE%'`,
          ) === "1",
      );
      psql(name, "insert into events (what) select 'after' from generate_series(1, 40)");
      psql(
        "postgres",
        `select pg_terminate_backend(pid) from pg_stat_activity where datname = ${lit(name)} and query like '%pg_sleep(30)%'`,
      );
      const [{ out }, manifest] = await Promise.all([saved, run.done]);

      const events = manifest.postgres[0]!.tables.find((t) => t.table === "events")!;
      const sql = readFileSync(path.join(out, "postgres", `${name}.sql`), "utf8");
      const dumped = sql.split("\n").filter((l) => /^\d+\t(before|after)$/.test(l));
      expect(psql(name, "select count(*) from events")).toBe("140");
      expect(events.rows).toBe(dumped.length);
      expect(events.rows).toBe(100);
      expect(leftovers(workDir)).toEqual([]);
    });

    it("a database's own settings neither run its owner's functions in Coffer's session nor time out its count", async () => {
      const name = `own_${randomBytes(3).toString("hex")}`;
      psql("postgres", `create database ${name}`);
      // What a database's owner may do: a function shadowing pg_catalog's in the search_path they
      // set for everyone who connects, and a statement timeout shorter than a count's lock wait.
      psql(
        name,
        `create table gate (x int); insert into gate values (1);
         create schema evil;
         create function evil.pg_export_snapshot() returns text language sql as $$ select 'hijacked' $$;
         create function evil.count(anyelement) returns bigint language sql as $$ select -1::bigint $$;
         alter database ${name} set search_path = evil, pg_catalog;
         alter database ${name} set statement_timeout = '1s';`,
      );
      execFileSync("sh", [
        "-c",
        `(echo 'set statement_timeout = 0; begin; lock table public.gate in access exclusive mode; select pg_sleep(3);' | PGDATABASE=${name} psql -X -q -h 127.0.0.1 -p ${cluster.port} -U postgres >/dev/null 2>&1 &)`,
      ]);
      await waitFor(
        () =>
          psql(
            name,
            "select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'gate' and l.mode = 'AccessExclusiveLock' and l.granted",
          ) === "1",
      );
      const workDir = newWorkDir();
      const run = await startArchive(job(getReach(), workDir, [pgSource(name)]));
      const [, manifest] = await Promise.all([saveAndExtract(run.stream), run.done]);
      expect(manifest.postgres[0]!.snapshot).not.toBe("hijacked");
      expect(manifest.postgres[0]!.tables).toEqual([{ schema: "public", table: "gate", rows: 1 }]);
      expect(leftovers(workDir)).toEqual([]);
    });

    it("pg_dump failing part-way (database dropped): done rejects with an explanation, the stream errors, the folder is gone", async () => {
      const name = `drop_${randomBytes(3).toString("hex")}`;
      psql("postgres", `create database ${name}`);
      psql(name, "create table gate (x int); create table t (x int); insert into t select generate_series(1, 1000);");
      execFileSync("sh", [
        "-c",
        `(echo 'begin; lock table gate in access exclusive mode; select pg_sleep(30);' | PGDATABASE=${name} psql -X -q -h 127.0.0.1 -p ${cluster.port} -U postgres >/dev/null 2>&1 &)`,
      ]);
      await waitFor(
        () =>
          psql(
            name,
            "select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'gate' and l.granted",
          ) === "1",
      );
      const workDir = newWorkDir();
      const j = job(getReach(), workDir, [pgSource(name)]);
      const run = await startArchive(j);
      const failure = expectFailure(run);
      await waitFor(
        () =>
          psql(
            name,
            `select count(*) from pg_stat_activity where application_name = 'coffer:${j.backupId}' and wait_event_type = 'Lock' and query ilike 'LOCK TABLE%'`,
          ) === "1",
      );
      expect(leftovers(workDir)).toHaveLength(1);
      psql("postgres", `drop database ${name} with (force)`);
      const error = await failure;
      expect(error).toBeInstanceOf(AppError);
      expect(error.message).toMatch(new RegExp(`^(pg_dump|Reading) of ${name} \\(db ${name}\\) failed`));
      expect(leftovers(workDir)).toEqual([]);
      expect(await waitUntilGone(() => processesOf("pg_dump", `PGAPPNAME=coffer:${j.backupId}`))).toEqual([]);
    });

    it("a table locked by another session for longer than the lock wait fails the backup naming it; nothing is left", async () => {
      const name = `lock_${randomBytes(3).toString("hex")}`;
      psql("postgres", `create database ${name}`);
      psql(
        name,
        'create table "Gate Keeper" (x int); create table t (x int); insert into t select generate_series(1, 1000);',
      );
      execFileSync("sh", [
        "-c",
        `(echo 'begin; lock table "Gate Keeper" in access exclusive mode; select pg_sleep(30);' | PGDATABASE=${name} psql -X -q -h 127.0.0.1 -p ${cluster.port} -U postgres >/dev/null 2>&1 &)`,
      ]);
      await waitFor(
        () =>
          psql(
            name,
            "select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'Gate Keeper' and l.granted",
          ) === "1",
      );
      const workDir = newWorkDir();
      const started = Date.now();
      const j = job(getReach(), workDir, [pgSource(name)], { lockWaitSeconds: 1 });
      const error = await expectFailure(await startArchive(j));
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(error).toBeInstanceOf(AppError);
      expect(error.message).toMatch(
        new RegExp(
          `^The table public\\."Gate Keeper" of ${name} \\(db ${name}\\) stayed locked by another session for more than 1\\.0 s, so the backup stopped waiting\\. .*BACKUP_LOCK_WAIT`,
        ),
      );
      expect(leftovers(workDir)).toEqual([]);
      expect(await waitUntilGone(() => processesOf("pg_dump", `PGAPPNAME=coffer:${j.backupId}`))).toEqual([]);
      psql("postgres", `drop database ${name} with (force)`);
    });

    it("wrong database or user, a missing path or a link: explained before anything is written", async () => {
      const workDir = newWorkDir();
      const e1 = await expectFailure(await startArchive(job(getReach(), workDir, [pgSource("nope")])));
      expect(e1.message).toBe(`db nope: Database nope does not exist on 127.0.0.1:${cluster.port}.`);
      const e2 = await expectFailure(
        await startArchive(job(getReach(), workDir, [pgSource("shop", { user: "ghost" })])),
      );
      expect(e2.message).toBe(`db shop: User ghost does not exist on 127.0.0.1:${cluster.port}.`);
      const e3 = await expectFailure(
        await startArchive(
          job(getReach(), workDir, [
            { kind: "directory", id: "d", name: "d", paths: [`${srcDir}/missing`], excludes: [] },
          ]),
        ),
      );
      expect(e3.message).toBe(
        `On test-server: ${srcDir}/missing does not exist. Fix the source's paths, or the folder permissions.`,
      );
      // A link to a folder: find would list the link alone, a backup of nothing that verifies.
      const linked = path.join(root, `linked-${randomBytes(3).toString("hex")}`);
      symlinkSync(srcDir, linked);
      const e4 = await expectFailure(
        await startArchive(
          job(getReach(), workDir, [{ kind: "directory", id: "d", name: "d", paths: [linked], excludes: [] }]),
        ),
      );
      expect(e4).toMatchObject({ code: "VALIDATION" });
      expect(e4.message).toBe(
        `On test-server: ${linked} is a symbolic link, so a backup would hold the link and none of the folder it points to (give the folder's own path). Fix the source's paths, or the folder permissions.`,
      );
      expect(leftovers(workDir)).toEqual([]);
    });

    it("not enough free space: refused before the private folder exists", async () => {
      const workDir = newWorkDir();
      const error = await expectFailure(
        await startArchive(job(getReach(), workDir, [pgSource("shop")], { minFreeBytes: 2 ** 60 })),
      );
      expect(error).toMatchObject({ code: "VALIDATION" });
      expect(error.message).toMatch(
        new RegExp(
          `^Not enough free space in ${workDir} on test-server: [\\d.]+ \\w+ free, need about 1024\\.0 PiB\\.`,
        ),
      );
      expect(leftovers(workDir)).toEqual([]);
    });

    it("cancellation while pg_dump runs and mid-stream: rejects quickly with the reason, nothing left behind", async () => {
      // While pg_dump waits on a lock.
      const name = `cancel_${randomBytes(3).toString("hex")}`;
      psql("postgres", `create database ${name}`);
      psql(name, "create table gate (x int);");
      execFileSync("sh", [
        "-c",
        `(echo 'begin; lock table gate in access exclusive mode; select pg_sleep(20);' | PGDATABASE=${name} psql -X -q -h 127.0.0.1 -p ${cluster.port} -U postgres >/dev/null 2>&1 &)`,
      ]);
      await waitFor(
        () =>
          psql(
            name,
            "select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'gate' and l.granted",
          ) === "1",
      );
      const workDir = newWorkDir();
      const ac = new AbortController();
      const j = job(getReach(), workDir, [pgSource(name)], { signal: ac.signal });
      const run = await startArchive(j);
      const failure = expectFailure(run);
      await waitFor(
        () =>
          psql(
            name,
            `select count(*) from pg_stat_activity where application_name = 'coffer:${j.backupId}' and wait_event_type = 'Lock' and query ilike 'LOCK TABLE%'`,
          ) === "1",
      );
      const reason = new AppError("CONFLICT", "Cancelled by the test.");
      let t0 = Date.now();
      ac.abort(reason);
      expect(await failure).toBe(reason);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(leftovers(workDir)).toEqual([]);
      expect(await waitUntilGone(() => processesOf("pg_dump", `PGAPPNAME=coffer:${j.backupId}`))).toEqual([]);
      psql(
        "postgres",
        `select pg_terminate_backend(pid) from pg_stat_activity where datname = ${lit(name)} and pid <> pg_backend_pid()`,
      );

      // Mid-stream: a slow consumer, then abort.
      const big = path.join(root, `big-${randomBytes(3).toString("hex")}`);
      mkdirSync(big);
      for (let i = 0; i < 8; i++) writeFileSync(path.join(big, `f${i}.bin`), randomBytes(8 * 1024 * 1024));
      const ac2 = new AbortController();
      const run2 = await startArchive(
        job(getReach(), workDir, [{ kind: "directory", id: "big", name: "big", paths: [big], excludes: [] }], {
          signal: ac2.signal,
        }),
      );
      let received = 0;
      const reading = new Promise<unknown>((resolve) => {
        run2.stream.on("data", (c: Buffer) => {
          received += c.length;
          if (received > 1024 * 1024 && !ac2.signal.aborted) {
            run2.stream.pause();
            t0 = Date.now();
            ac2.abort(reason);
          }
        });
        run2.stream.on("error", resolve);
        run2.stream.on("end", () => resolve("ended"));
      });
      const e2 = await run2.done.catch((e: unknown) => e);
      expect(e2).toBe(reason);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(await reading).toBe(reason);
      expect(leftovers(workDir)).toEqual([]);
      expect(await waitUntilGone("tar --create --file=-")).toEqual([]);
      expect(processesMatching("igzip -1")).toEqual([]);
    });

    it("pg_dump failing part-way through the data: rejects naming pg_dump, and neither its spool nor the private folder remains", async () => {
      const name = `half_${randomBytes(3).toString("hex")}`;
      psql("postgres", `create database ${name}`);
      psql(
        name,
        "create table big (id int, payload text); insert into big select g, md5(random()::text) || md5(random()::text) || md5(random()::text) from generate_series(1, 1000000) g;",
      );
      const workDir = newWorkDir();
      const j = job(getReach(), workDir, [pgSource(name)]);
      const run = await startArchive(j);
      const failure = expectFailure(run);
      // Once compressed SQL is in the spool, pg_dump's session ends as when its server goes away.
      await waitFor(() => spoolBytes(workDir) > 0, 30_000, 10);
      psql(
        "postgres",
        `select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'coffer:${j.backupId}' and query ilike 'COPY %'`,
      );
      const error = await failure;
      expect(error).toBeInstanceOf(AppError);
      expect(error.message).toMatch(new RegExp(`^pg_dump of ${name} \\(db ${name}\\) failed`));
      expect(leftovers(workDir)).toEqual([]);
      expect(await waitUntilGone(() => processesOf("pg_dump", `PGAPPNAME=coffer:${j.backupId}`))).toEqual([]);
      psql("postgres", `drop database ${name}`);
    });

    it("hostile names, paths and patterns are arguments: nothing runs, everything is archived as named", async () => {
      const canary = path.join(root, `canary-${randomBytes(3).toString("hex")}`);
      // File names cannot hold a slash: these touch a relative canary, looked for in every likely working folder.
      const relCanary = path.basename(canary);
      const evil = [
        `; touch ${relCanary} #`,
        `$(touch ${relCanary})`,
        `\`touch ${relCanary}\``,
        `it's "quoted"`,
        "-rf",
        "--help",
        `a\nb`,
        "*",
      ];
      const dir = path.join(root, `hostile-${randomBytes(3).toString("hex")}`, `-x $(touch ${canary}) '"`);
      mkdirSync(dir, { recursive: true });
      for (const [i, n] of evil.entries()) writeFileSync(path.join(dir, n), `content ${i}`);
      // PostgreSQL cuts names at 63 bytes, wherever TMPDIR is: these touch a canary at a short path.
      const pgCanary = `/tmp/coffer-canary-${randomBytes(3).toString("hex")}`;
      const dbName = `$(touch ${pgCanary}); drop database shop; '"\\`;
      const table = `t; touch ${pgCanary}`;
      psql("postgres", `create database ${ident(dbName)}`);
      psql(dbName, `create table ${ident(table)} (x text); insert into ${ident(table)} values ('ok')`);
      const conninfo = `host=/nonexistent dbname=shop application_name=${randomBytes(3).toString("hex")}`;
      psql("postgres", `create database ${ident(conninfo)}`);
      psql(conninfo, "create table marker (x int); insert into marker values (42)");

      const workDir = newWorkDir();
      const sources: ArchiveSource[] = [
        { ...pgSource(dbName), name: `$(touch ${canary})` },
        pgSource(conninfo),
        {
          kind: "directory",
          id: `'; touch ${canary}`,
          name: `\`touch ${canary}\``,
          paths: [dir],
          excludes: [`$(touch ${canary})`, `; touch ${canary}`, "-delete"],
        },
      ];
      const run = await startArchive(job(getReach(), workDir, sources));
      const [{ out }, manifest] = await Promise.all([saveAndExtract(run.stream), run.done]);
      expect(existsSync(canary)).toBe(false);
      expect(existsSync(pgCanary)).toBe(false);
      for (const where of [process.cwd(), workDir, dir, path.dirname(dir), "/root", "/", tmpdir()])
        expect(existsSync(path.join(where, relCanary)), where).toBe(false);
      for (const [i, n] of evil.entries())
        expect(readFileSync(path.join(out, "files", dir.slice(1), n), "utf8")).toBe(`content ${i}`);
      expect(manifest.postgres.map((p) => [p.database, p.path, p.tables])).toEqual([
        [dbName, `postgres/${safe(dbName)}.sql`, [{ schema: "public", table, rows: 1 }]],
        [conninfo, `postgres/${safe(conninfo)}.sql`, [{ schema: "public", table: "marker", rows: 1 }]],
      ]);
      expect(readFileSync(path.join(out, "postgres", `${safe(conninfo)}.sql`), "utf8")).toMatch(
        /COPY public\.marker[^\n]*\n42\n/,
      );
      expect(leftovers(workDir)).toEqual([]);
    });

    it("a file name that is not UTF-8 is archived under its own bytes, and the run log warns that Coffer cannot restore it", async () => {
      const dir = path.join(root, `latin1-${randomBytes(3).toString("hex")}`);
      mkdirSync(dir);
      const name = Buffer.concat([Buffer.from("caf"), Buffer.from([0xe9]), Buffer.from(".txt")]); // "café.txt" in Latin-1
      writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), name]), "latin1\n");
      writeFileSync(path.join(dir, "plain.txt"), "plain\n");
      const steps: string[] = [];
      const files: ArchiveSource = { kind: "directory", id: "src_latin1", name: "legacy", paths: [dir], excludes: [] };
      const run = await startArchive(job(getReach(), newWorkDir(), [files], { onStep: (m) => steps.push(m) }));
      const [{ file, out }] = await Promise.all([saveAndExtract(run.stream), run.done]);
      expect(steps).toContainEqual(
        `Warning: 1 file name is not valid UTF-8 (${JSON.stringify(`${dir}/caf\uFFFD.txt`)}). The archive holds them under their own names, but Coffer cannot restore them: rename them to UTF-8, or extract them from the downloaded backup with tar.`,
      );
      expect(steps.filter((s) => s.startsWith("Warning"))).toHaveLength(1); // plain.txt is not named
      const listed = execFileSync("tar", ["tzf", file, "--quoting-style=literal"]);
      expect(listed.includes(Buffer.concat([Buffer.from(`${dir.slice(1)}/`), name]))).toBe(true);
      const extracted = Buffer.concat([Buffer.from(path.join(out, "files", dir.slice(1)) + "/"), name]);
      expect(readFileSync(extracted, "utf8")).toBe("latin1\n");
    });
  });

  describe.each(reaches)("gzip tools over %s", (_name, getReach) => {
    const variants: {
      hide: string[];
      setting: CompressionSetting;
      made: Omit<Manifest["compression"] & {}, "setting">;
    }[] = [
      { hide: [], setting: "fast", made: { tool: "igzip", level: 1 } },
      { hide: [], setting: "balanced", made: { tool: "igzip", level: 3 } },
      { hide: [], setting: "small", made: { tool: "pigz", level: 9 } },
      // Without python3 the dump is measured by tee into openssl and wc; without openssl, into sha256sum.
      { hide: ["igzip", "python3"], setting: "fast", made: { tool: "pigz", level: 1 } },
      { hide: ["igzip", "pigz", "python3", "openssl"], setting: "fast", made: { tool: "gzip", level: 1 } },
      { hide: ["igzip", "pigz"], setting: "small", made: { tool: "gzip", level: 9 } },
    ];
    it.each(variants)(
      "without $hide, $setting compresses with $made.tool: gzip -d, tar and Python's tarfile read every member as the manifest says",
      async ({ hide, setting, made }) => {
        const reach = hide.length ? withPath(getReach(), pathWithout(hide, root)) : getReach();
        const workDir = newWorkDir();
        const files: ArchiveSource = {
          kind: "directory",
          id: "src_files",
          name: "site",
          paths: [srcDir],
          excludes: [],
        };
        const steps: string[] = [];
        const run = await startArchive(
          job(reach, workDir, [pgSource("shop"), files], { compression: setting, onStep: (m) => steps.push(m) }),
        );
        const [{ file, out }, manifest] = await Promise.all([saveAndExtract(run.stream), run.done]);
        expect(manifest.compression).toEqual({ setting, ...made });
        expect(steps.join("\n")).toContain(`compressed with ${made.tool} -${made.level}`);
        expectReadableEverywhere(file, manifest);
        expect(manifest.postgres[0]!.tables.map((t) => t.rows)).toEqual([2, 250, 3]);
        expect(readFileSync(path.join(out, "postgres", "shop.sql"), "utf8")).toContain("COPY public.customers");
        expect(leftovers(workDir)).toEqual([]);
      },
    );

    it("a compressor failing after pg_dump succeeded fails the backup with its message; nothing is left", async () => {
      const dir = pathWithout(["igzip"], root);
      // Reads everything pg_dump writes (so pg_dump itself succeeds), then fails.
      writeFileSync(
        path.join(dir, "igzip"),
        '#!/bin/sh\ncat >/dev/null\necho "igzip: write error: disk quota exceeded" >&2\nexit 3\n',
        { mode: 0o755 },
      );
      const workDir = newWorkDir();
      const error = await expectFailure(
        await startArchive(job(withPath(getReach(), dir), workDir, [pgSource("shop")])),
      );
      expect(error).toBeInstanceOf(AppError);
      expect(error.message).toContain("igzip: write error: disk quota exceeded");
      expect(leftovers(workDir)).toEqual([]);
    });
  });

  describe("archive over ssh: lost connection", () => {
    /** An SSH connection through a TCP relay the test can cut, as a network failure would. */
    async function cuttableConnection() {
      const sockets = new Set<Socket>();
      const relay = createServer((client) => {
        const upstream = connect(sshd.port, "127.0.0.1");
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        client.on("error", () => upstream.destroy());
        upstream.on("error", () => client.destroy());
      });
      await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
      const conn = await connectSsh({
        host: "127.0.0.1",
        port: (relay.address() as AddressInfo).port,
        username: sshd.username,
        privateKey: sshd.privateKey,
        allowPrivateNetworks: true,
        connectTimeoutMs: 10_000,
      });
      return {
        reach: conn.reach,
        cut: () => {
          for (const s of sockets) s.destroy();
          sockets.clear();
        },
        cutAlready: () => sockets.size === 0,
        close: async () => {
          await conn.reach.close();
          relay.close();
        },
      };
    }

    it("a connection cut mid-stream rejects, and the server removes the private folder by itself", async () => {
      const conn = await cuttableConnection();
      const big = path.join(root, `lost-${randomBytes(3).toString("hex")}`);
      mkdirSync(big);
      for (let i = 0; i < 8; i++) writeFileSync(path.join(big, `f${i}.bin`), randomBytes(8 * 1024 * 1024));
      const workDir = newWorkDir();
      const run = await startArchive(
        job(conn.reach, workDir, [{ kind: "directory", id: "l", name: "l", paths: [big], excludes: [] }]),
      );
      let received = 0;
      run.stream.on("data", (c: Buffer) => {
        received += c.length;
        if (received > 1024 * 1024 && !conn.cutAlready()) {
          run.stream.pause();
          conn.cut();
        }
      });
      const error = await run.done.then(
        () => new Error("expected a failure"),
        (e: unknown) => e as Error,
      );
      expect(error).toBeInstanceOf(AppError);
      expect(run.stream.destroyed && !run.stream.readableEnded).toBe(true);
      await waitFor(() => leftovers(workDir).length === 0, 10_000);
      expect(await waitUntilGone("tar --create --file=-", 5_000)).toEqual([]);
      await conn.close();
      rmSync(big, { recursive: true, force: true });
    });

    it("a connection cut while pg_dump fills its spool rejects; the server removes the spool with the private folder, and pg_dump goes", async () => {
      const name = `lost_${randomBytes(3).toString("hex")}`;
      psql("postgres", `create database ${name}`);
      psql(
        name,
        "create table big (id int, payload text); insert into big select g, md5(random()::text) || md5(random()::text) || md5(random()::text) from generate_series(1, 1000000) g;",
      );
      const conn = await cuttableConnection();
      const workDir = newWorkDir();
      const j = job(conn.reach, workDir, [pgSource(name)]);
      const run = await startArchive(j);
      const failure = expectFailure(run);
      await waitFor(() => spoolBytes(workDir) > 0, 30_000, 10);
      conn.cut();
      expect(await failure).toBeInstanceOf(AppError);
      await waitFor(() => leftovers(workDir).length === 0, 10_000);
      expect(await waitUntilGone(() => processesOf("pg_dump", `PGAPPNAME=coffer:${j.backupId}`), 5_000)).toEqual([]);
      await conn.close();
      psql("postgres", `drop database ${name} with (force)`);
    });
  });

  it("a dozen databases over an sshd with its default 10 sessions a connection: all backed up", async () => {
    const names = Array.from({ length: 12 }, (_, i) => `many_${i}_${randomBytes(2).toString("hex")}`);
    for (const name of names) psql("postgres", `create database ${name}`);
    const strict = await startSshd({ maxSessions: 10 });
    const conn = await connectSsh({
      host: strict.host,
      port: strict.port,
      username: strict.username,
      privateKey: strict.privateKey,
      allowPrivateNetworks: true,
      connectTimeoutMs: 10_000,
    });
    try {
      const workDir = newWorkDir();
      const run = await startArchive(
        job(
          conn.reach,
          workDir,
          names.map((n) => pgSource(n)),
        ),
      );
      const [{ members }, manifest] = await Promise.all([saveAndExtract(run.stream), run.done]);
      expect(manifest.postgres.map((p) => p.database).sort()).toEqual([...names].sort());
      expect(members.filter((m) => m.startsWith("postgres/"))).toHaveLength(12);
      expect(leftovers(workDir)).toEqual([]);
    } finally {
      await conn.reach.close();
      await strict.stop();
      for (const name of names) psql("postgres", `drop database ${name}`);
    }
  });

  async function waitFor(check: () => boolean, ms = 15_000, every = 50) {
    const until = Date.now() + ms;
    while (!check()) {
      if (Date.now() > until) throw new Error("timed out waiting for a condition");
      await new Promise((r) => setTimeout(r, every));
    }
  }

  describe("memory", () => {
    it("streams a ~200 MiB directory over ssh with flat RSS", async () => {
      const big = path.join(root, "memory");
      mkdirSync(big);
      for (let i = 0; i < 25; i++) writeFileSync(path.join(big, `part-${i}.bin`), randomBytes(8 * 1024 * 1024));
      const workDir = newWorkDir();
      global.gc?.();
      const before = process.memoryUsage().rss;
      let peak = before;
      const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
      const t0 = Date.now();
      const run = await startArchive(
        job(ssh.reach, workDir, [{ kind: "directory", id: "m", name: "m", paths: [big], excludes: [] }]),
      );
      let bytes = 0;
      run.stream.on("data", (c: Buffer) => (bytes += c.length));
      const manifest: Manifest = await run.done;
      clearInterval(timer);
      const growth = (peak - before) / 1024 / 1024;
      console.log(
        `memory: streamed ${(bytes / 1024 / 1024).toFixed(0)} MiB (.tar.gz) of ${manifest.entries.length} files in ${Date.now() - t0} ms; RSS before ${(before / 1024 / 1024).toFixed(0)} MiB, peak growth ${growth.toFixed(1)} MiB`,
      );
      expect(bytes).toBeGreaterThan(200 * 1024 * 1024);
      expect(growth).toBeLessThan(100);
      rmSync(big, { recursive: true, force: true });
    });
  });
});

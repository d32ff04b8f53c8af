import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { requestBackup } from "@/lib/backups/mutations";
import { getBackup } from "@/lib/backups/queries";
import { createDestination } from "@/lib/destinations/mutations";
import { env } from "@/lib/env";
import { requestDatabaseRestore, requestVerification } from "@/lib/restores/mutations";
import { getRestore } from "@/lib/restores/queries";
import { scratchName } from "@/lib/restores/scratch";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { signedUpUser } from "@/test/factories";
import { startS3rver, type S3rverServer } from "@/test/servers/s3rver";
import { startSshd, type TestSshd } from "@/test/servers/sshd";

// Crash safety through real processes: a Coffer process (test/crash/coffer-process.ts, the embedded
// engine as the app starts it) runs a backup on this test's database and data folder, is killed
// at a chosen point (COFFER_TEST_PAUSE holds the run there), and a fresh process on the same
// database and folder must finish the run and leave nothing behind.

let s3: S3rverServer;
let sshd: TestSshd;
let scratch: string;
let admin: postgres.Sql;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  [s3, sshd] = await Promise.all([startS3rver(), startSshd()]);
  scratch = mkdtempSync(path.join(tmpdir(), "coffer-crash-"));
  admin = postgres(inject("postgresAdminUrl")!, { max: 1, onnotice: () => {} });
});
afterEach(() => {
  for (const c of children) c.kill("SIGKILL");
  children.clear();
  // A failed test may leave its pause marker; the next test at the same point must not see it.
  for (const f of existsSync(env().DATA_DIR) ? readdirSync(env().DATA_DIR) : [])
    if (f.startsWith("paused-")) rmSync(path.join(env().DATA_DIR, f));
});
afterAll(async () => {
  await Promise.all([s3?.stop(), sshd?.stop(), admin?.end()]);
  rmSync(scratch, { recursive: true, force: true });
});

const s3Client = () =>
  new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
const s3Keys = async (prefix: string) =>
  ((await s3Client().send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }))).Contents ?? []).map(
    (o) => o.Key!,
  );
const s3Uploads = async (prefix: string) =>
  (await s3Client().send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: prefix }))).Uploads ?? [];

/** Every file and folder under `dir` whose name says it is temporary (Coffer's uploads, work folders); with `all`, every one. */
function temporaries(dir: string, out: string[] = [], all = false): string[] {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (all || e.name.startsWith(".coffer-") || e.name.startsWith("coffer-")) out.push(p);
    if (e.isDirectory() && !e.name.startsWith("pglite")) temporaries(p, out, all);
  }
  return out;
}

/**
 * A team with an SSH server backing up a 12 MiB folder to S3 and this host's disk or, with
 * `toServerDir`, to a directory on that server (over SFTP); one backup requested.
 */
async function queuedBackup(toServerDir = false) {
  const user = await signedUpUser("Crash");
  const t = await user.team("member");
  const admin = await user.team("admin");
  const files = mkdtempSync(path.join(scratch, "data-"));
  writeFileSync(path.join(files, "blob.bin"), randomBytes(12 * 1024 * 1024));
  const workDir = mkdtempSync(path.join(scratch, "work-"));
  const { id: serverId } = await createServer(admin, {
    kind: "ssh",
    name: `box-${randomBytes(3).toString("hex")}`,
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    authMethod: "key",
    privateKey: sshd.privateKey,
    workDir,
  });
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "directory",
    name: "files",
    paths: [files],
    excludes: [],
  });
  const prefix = `c-${randomBytes(4).toString("hex")}`;
  const { id: s3Id } = await createDestination(admin, {
    kind: "s3",
    name: "bucket",
    bucket: s3.bucket,
    prefix,
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  });
  const { id: localId } = await createDestination(admin, { kind: "local", name: "disk", prefix });
  const backupDir = path.join(scratch, `backups-${prefix}`);
  const destinationIds = toServerDir
    ? [(await createDestination(admin, { kind: "server", name: "nas-dir", serverId, path: backupDir })).id]
    : [s3Id, localId];
  // No engine in this process: the Coffer process is asked for the run.
  const { id } = await requestBackup(t, { serverId, sourceIds: [sourceId], destinationIds, encrypted: true });
  return { t, serverId, id, prefix, workDir, backupDir };
}

/** Starts a Coffer process; `args` ask it for a run. */
function coffer(args: string[], extraEnv: Record<string, string> = {}) {
  const child = spawn(
    process.execPath,
    ["--conditions=react-server", "--import", "tsx", "test/crash/coffer-process.ts", ...args],
    { env: { ...process.env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] },
  );
  children.add(child);
  let output = "";
  child.stdout!.on("data", (b: Buffer) => (output += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, output: () => output };
}

async function until<T>(
  what: () => string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 60_000,
) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const pausedFile = (point: string) => path.join(env().DATA_DIR, `paused-${point.replace(/\W/g, "-")}`);

/** Runs the backup in a process held at `point`, kills it (SIGKILL) there, and starts a fresh one. */
async function killedAt(
  point: string,
  check?: (b: Awaited<ReturnType<typeof queuedBackup>>) => Promise<void>,
  toServerDir = false,
) {
  const b = await queuedBackup(toServerDir);
  const first = coffer(["backup", b.t.id, b.serverId, b.id], { COFFER_TEST_PAUSE: point });
  await until(
    () => `the run to reach ${point}\n${first.output()}`,
    () => existsSync(pausedFile(point)),
  );
  await check?.(b);
  first.child.kill("SIGKILL");
  await first.exited;
  rmSync(pausedFile(point));
  expect((await getBackup(b.t, b.id)).status).toBe("running");
  const restartedAt = Date.now();
  const second = coffer([]);
  const done = await until(
    () => `the backup to finish\n${second.output()}`,
    async () => {
      const row = await getBackup(b.t, b.id);
      return ["succeeded", "failed"].includes(row.status) && row;
    },
    90_000,
  );
  return { b, done, restartedAt, second };
}

/** Nothing temporary left on Coffer's disk, the server's work folder or s3rver; one whole object in each destination. */
async function expectNothingLeft(b: Awaited<ReturnType<typeof queuedBackup>>) {
  expect(temporaries(env().DATA_DIR)).toEqual([]);
  expect(readdirSync(b.workDir)).toEqual([]);
  expect(await s3Uploads(b.prefix)).toEqual([]);
}

describe("a backup whose process was killed", () => {
  it.each([
    ["while the dump starts", "stream:0"],
    // Past S3's first 8 MiB part: a multipart upload is open.
    ["mid-stream to S3 and this host's disk", `stream:${10 * 1024 * 1024}`],
    ["as the local copy is put in place", "rename"],
  ])("%s is resumed by the next process within 15 s and succeeds, leaving nothing behind", async (_, point) => {
    const { b, done, restartedAt } = await killedAt(point, async (b) => {
      if (point !== "stream:0" && point !== "rename") {
        // Killed mid-stream: a multipart upload (opened as its first part goes out) and a temporary file are under way.
        await until(
          () => "a multipart upload to be open",
          async () => (await s3Uploads(b.prefix)).length > 0,
          10_000,
        );
        expect(temporaries(env().DATA_DIR).some((p) => path.basename(p).startsWith(`.coffer-upload-${b.id}`))).toBe(
          true,
        );
      }
    });
    expect(done).toMatchObject({ status: "succeeded", attempts: 2, error: null });
    const resumed = done.log.find((l) => /^Attempt 2 started: resumed after an interruption/.test(l.message));
    expect(resumed).toBeDefined();
    expect(resumed!.createdAt.getTime() - restartedAt).toBeLessThan(15_000);
    await expectNothingLeft(b);
    const keys = await s3Keys(b.prefix);
    expect(keys).toHaveLength(1);
    expect(done.locations.map((l) => l.status)).toEqual(["stored", "stored"]);
    // Whole objects, never a half-written one: each copy has the size the backup recorded.
    expect(done.sizeBytes).toBeGreaterThan(12 * 1024 * 1024);
    const head = await s3Client().send(new HeadObjectCommand({ Bucket: s3.bucket, Key: keys[0]! }));
    expect(head.ContentLength).toBe(done.sizeBytes);
    const onDisk = temporaries(env().DATA_DIR, [], true).filter((p) => p.endsWith(done.locations[0]!.objectKey));
    expect(onDisk.map((p) => statSync(p).size)).toEqual([done.sizeBytes]);
  });

  it("mid-stream to a directory on a server (SFTP) is resumed and succeeds, leaving no temporary file there", async () => {
    const files = (dir: string) => temporaries(dir, [], true).filter((p) => statSync(p).isFile());
    const { b, done } = await killedAt(
      `stream:${10 * 1024 * 1024}`,
      async (b) => {
        // Killed mid-stream: the upload's temporary file, named after the run, is in the directory.
        const tmp = files(b.backupDir).map((p) => path.basename(p));
        expect(tmp).toHaveLength(1);
        expect(tmp[0]).toMatch(new RegExp(`^\\..+\\.coffer-${b.id}-[0-9a-f]+\\.tmp$`));
      },
      true,
    );
    expect(done).toMatchObject({ status: "succeeded", attempts: 2, error: null });
    expect(done.log.some((l) => /^Attempt 2 started: resumed after an interruption/.test(l.message))).toBe(true);
    await expectNothingLeft(b);
    // One whole object of the recorded size, and nothing else, in the backup directory.
    expect(done.locations.map((l) => l.status)).toEqual(["stored"]);
    expect(done.sizeBytes).toBeGreaterThan(12 * 1024 * 1024);
    expect(files(b.backupDir).map((p) => [path.relative(b.backupDir, p), statSync(p).size])).toEqual([
      [done.locations[0]!.objectKey, done.sizeBytes],
    ]);
  });
});

describe("SIGTERM", () => {
  it("during a backup (twice, as systemd and npm both send it) leaves it queued, never running, and the next process completes it", async () => {
    const b = await queuedBackup();
    const point = `stream:${6 * 1024 * 1024}`;
    const first = coffer(["backup", b.t.id, b.serverId, b.id], {
      COFFER_TEST_PAUSE: point,
      SHUTDOWN_GRACE_PERIOD: "1",
    });
    await until(
      () => `the run to reach ${point}\n${first.output()}`,
      () => existsSync(pausedFile(point)),
    );
    rmSync(pausedFile(point));
    first.child.kill("SIGTERM");
    await until(
      () => `the process to start stopping\n${first.output()}`,
      () => first.output().includes("stopping: running workflows may finish"),
    );
    first.child.kill("SIGTERM");
    expect(await first.exited, first.output()).toBe(0);
    const stopped = await getBackup(b.t, b.id);
    expect(stopped.status).toBe("queued");
    expect(stopped.log.some((l) => /shutting down/.test(l.message))).toBe(true);
    expect(temporaries(env().DATA_DIR)).toEqual([]);
    coffer([]);
    const done = await until(
      () => "the backup to finish",
      async () => {
        const row = await getBackup(b.t, b.id);
        return ["succeeded", "failed"].includes(row.status) && row;
      },
    );
    expect(done).toMatchObject({ status: "succeeded", attempts: 2 });
    await expectNothingLeft(b);
  });
});

const databases = async () =>
  (await admin<{ datname: string }[]>`select datname from pg_database`).map((r) => r.datname);

/** A succeeded backup of a PostgreSQL database (run by a Coffer process), on this host's disk. */
async function backedUpDatabase() {
  const user = await signedUpUser("Restorer");
  const t = await user.team("member");
  const admin_ = await user.team("admin");
  const database = `src_${randomBytes(5).toString("hex")}`;
  await admin.unsafe(`create database ${database}`);
  const c = postgres(inject("postgresAdminUrl")!.replace(/\/postgres$/, `/${database}`), {
    max: 1,
    onnotice: () => {},
  });
  await c.unsafe("create table items (id int primary key); insert into items select generate_series(1, 500)");
  await c.end();
  const { id: serverId } = await createServer(admin_, {
    kind: "ssh",
    name: `db-${randomBytes(3).toString("hex")}`,
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    authMethod: "key",
    privateKey: sshd.privateKey,
    workDir: mkdtempSync(path.join(scratch, "work-")),
  });
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "postgres",
    name: "app db",
    pgHost: "127.0.0.1",
    pgPort: Number(new URL(inject("postgresAdminUrl")!).port),
    pgDatabase: database,
    pgUser: "postgres",
    pgSslmode: "disable",
  });
  const { id: localId } = await createDestination(admin_, {
    kind: "local",
    name: "disk",
    prefix: `r-${randomBytes(3).toString("hex")}`,
  });
  const { id: backupId } = await requestBackup(t, {
    serverId,
    sourceIds: [sourceId],
    destinationIds: [localId],
    encrypted: true,
  });
  const p = coffer(["backup", t.id, serverId, backupId]);
  await until(
    () => `the backup to succeed\n${p.output()}`,
    async () => (await getBackup(t, backupId)).status === "succeeded",
  );
  p.child.kill("SIGKILL");
  await p.exited;
  return { t, serverId, sourceId, database, backupId };
}

/** Runs restore `id` in a process held at `point`, kills it there, and lets a fresh process finish it. */
async function restoreKilledAt(
  t: Awaited<ReturnType<typeof backedUpDatabase>>["t"],
  serverId: string,
  id: string,
  kind: string,
  point: string,
) {
  const first = coffer(["restore", t.id, serverId, id, kind], { COFFER_TEST_PAUSE: point });
  await until(
    () => `the job to reach ${point}\n${first.output()}`,
    () => existsSync(pausedFile(point)),
  );
  first.child.kill("SIGKILL");
  await first.exited;
  rmSync(pausedFile(point));
  expect((await getRestore(t, id)).status).toBe("running");
  const second = coffer([]);
  return until(
    () => `the job to end\n${second.output()}`,
    async () => {
      const r = await getRestore(t, id);
      return ["succeeded", "failed"].includes(r.status) && r;
    },
    90_000,
  );
}

describe("a restore or verification whose process was killed", () => {
  it.each([
    ["before its point of no return (loaded, not yet swapped)", "restore-loaded"],
    ["after its point of no return (before the rename)", "restore-swap"],
  ])("%s is finished by the next process", async (_, point) => {
    const b = await backedUpDatabase();
    const target = `restored_${randomBytes(4).toString("hex")}`;
    const { id } = await requestDatabaseRestore(b.t, {
      backupId: b.backupId,
      member: `postgres/${b.database}.sql`,
      serverId: b.serverId,
      connectionSourceId: b.sourceId,
      targetDatabase: target,
      mode: "new",
    });
    const done = await restoreKilledAt(b.t, b.serverId, id, "database", point);
    expect(done).toMatchObject({ status: "succeeded", error: null });
    expect(done.log.some((l) => /resumed after an interruption/.test(l.message))).toBe(true);
    const c = postgres(inject("postgresAdminUrl")!.replace(/\/postgres$/, `/${target}`), {
      max: 1,
      onnotice: () => {},
    });
    expect((await c`select count(*)::int as n from items`)[0]!.n).toBe(500);
    await c.end();
    expect(await databases()).not.toContain(scratchName("restore", id));
  });

  it("a verification is finished by the next process and its scratch database dropped", async () => {
    const b = await backedUpDatabase();
    const { id } = await requestVerification(b.t, { backupId: b.backupId });
    const done = await restoreKilledAt(b.t, b.serverId, id, "verify", "verify-loaded");
    expect(done).toMatchObject({ status: "succeeded", error: null });
    expect(done.log.some((l) => /resumed after an interruption/.test(l.message))).toBe(true);
    expect((await databases()).filter((n) => n.includes(id.replace(/^rst_/, "")))).toEqual([]);
  });
});

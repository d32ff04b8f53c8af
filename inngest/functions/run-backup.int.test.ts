import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { failRun } from "@/lib/backups/fail";
import { cancelBackup, requestBackup } from "@/lib/backups/mutations";
import { getBackup, listBackups } from "@/lib/backups/queries";
import { openArchive, succeededBackup } from "@/lib/backups/open-archive";
import { transferBackup } from "@/lib/backups/transfer";
import { createDecryptStream } from "@/lib/crypto/envelope";
import { keyring } from "@/lib/crypto/master-keys";
import { createDestination } from "@/lib/destinations/mutations";
import { AppError } from "@/lib/errors";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { dispatch } from "@/lib/workflows/dispatch";
import { backupLeftoversPendingAt, insertBackupRow, insertLocationRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { processesOf } from "@/test/processes";
import { startProxy, type TestProxy } from "@/test/proxy";
import { startS3rver, type S3rverServer } from "@/test/servers/s3rver";
import { startSshd, type TestSshd } from "@/test/servers/sshd";
import { backupEvent } from "../events";
import { inProcessEngine, type InProcessEngine } from "../in-process";
import { backUpNow } from "@/test/backups";

let s3: S3rverServer;
let sshd: TestSshd;
let pgPort: number;
let admin: postgres.Sql;
let engine: InProcessEngine;
let scratch: string;
const proxies: TestProxy[] = [];

beforeAll(async () => {
  [s3, sshd] = await Promise.all([startS3rver(), startSshd()]);
  const adminUrl = inject("postgresAdminUrl")!;
  pgPort = Number(new URL(adminUrl).port);
  admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  scratch = mkdtempSync(path.join(tmpdir(), "coffer-runs-"));
});
afterAll(async () => {
  await engine?.stop();
  await Promise.all([s3?.stop(), sshd?.stop(), admin?.end(), ...proxies.map((p) => p.stop())]);
});

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
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

const WORK_DIR = "/var/tmp";

/** A database with known rows, on the test cluster. */
async function knownDatabase(rows = 3) {
  const name = `src_${randomBytes(5).toString("hex")}`;
  await admin.unsafe(`create database ${name}`);
  const c = postgres(inject("postgresAdminUrl")!.replace(/\/postgres$/, `/${name}`), { max: 1, onnotice: () => {} });
  await c.unsafe(
    `create table items (id int primary key, label text); insert into items select g, 'item ' || g from generate_series(1, ${rows}) g;`,
  );
  await c.end();
  return name;
}

/** A team with an SSH server (optionally through a proxy), a PostgreSQL source, and S3 + local destinations. */
async function setup(o: { sshPort?: number; s3Endpoint?: string; directory?: string; rows?: number } = {}) {
  const user = await signedUpUser("Runner");
  const t = await user.team("member");
  const { id: serverId } = await createServer(await user.team("admin"), {
    kind: "ssh",
    name: `box-${randomBytes(3).toString("hex")}`,
    host: sshd.host,
    port: o.sshPort ?? sshd.port,
    username: sshd.username,
    authMethod: "key",
    privateKey: sshd.privateKey,
    workDir: WORK_DIR,
  });
  const database = await knownDatabase(o.rows);
  const { id: pgId } = await createSource(t, {
    serverId,
    kind: "postgres",
    name: "app db",
    pgHost: "127.0.0.1",
    pgPort,
    pgDatabase: database,
    pgUser: "postgres",
    pgSslmode: "disable",
  });
  const sourceIds = [pgId];
  if (o.directory)
    sourceIds.push(
      (await createSource(t, { serverId, kind: "directory", name: "files", paths: [o.directory], excludes: [] })).id,
    );
  const prefix = `t-${randomBytes(4).toString("hex")}`;
  const { id: s3Id } = await createDestination(await user.team("admin"), {
    kind: "s3",
    name: "bucket",
    bucket: s3.bucket,
    prefix,
    region: s3.region,
    endpoint: o.s3Endpoint ?? s3.endpoint,
    forcePathStyle: true,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  });
  const { id: localId } = await createDestination(await user.team("admin"), { kind: "local", name: "disk", prefix });
  return { user, t, serverId, sourceIds, database, prefix, destinationIds: [s3Id, localId] };
}
type Setup = Awaited<ReturnType<typeof setup>>;

async function backUp(s: Setup, encrypted = true) {
  const { id } = await requestBackup(s.t, {
    serverId: s.serverId,
    sourceIds: s.sourceIds,
    destinationIds: s.destinationIds,
    encrypted,
  });
  engine.send([backupEvent({ teamId: s.t.id, serverId: s.serverId, backupId: id })]);
  return id;
}

/** The stored S3 object, decrypted with the master key alone (as the offline CLI does), extracted. */
async function restoreFromS3(key: string, encrypted: boolean) {
  const dir = mkdtempSync(path.join(scratch, "x-"));
  const body = (await s3Client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: key })))
    .Body as NodeJS.ReadableStream;
  const file = path.join(dir, "backup.tar.gz");
  await (encrypted
    ? pipeline(body, createDecryptStream({ keys: keyring() }), createWriteStream(file))
    : pipeline(body, createWriteStream(file)));
  execFileSync("tar", ["xzf", file, "-C", dir]);
  return dir;
}

describe("run-backup", () => {
  it("streams an encrypted backup to every destination and records it", async () => {
    const s = await setup();
    const id = await backUp(s);
    await engine.idle();
    const b = await getBackup(s.t, id);
    expect(b).toMatchObject({ status: "succeeded", encrypted: true, trigger: "manual", attempts: 1, error: null });
    expect(b.locations.map((l) => [l.destinationName, l.status])).toEqual([
      ["bucket", "stored"],
      ["disk", "stored"],
    ]);
    expect(b.locations.every((l) => l.sizeBytes === b.sizeBytes && l.sha256 === b.sha256)).toBe(true);
    expect(b.locations.find((l) => l.kind === "s3")!.storageClass).toBe("STANDARD");
    expect(b.log.map((l) => l.message).at(-1)).toMatch(/^Succeeded: \d+ bytes stored in 2 locations\.$/);

    const key = `${s.prefix}/${b.locations[0]!.objectKey}`;
    expect(b.locations[0]!.objectKey).toMatch(
      new RegExp(`^${s.serverId}/box-[0-9a-f]{6}-\\d{8}-\\d{6}-${id}\\.tar\\.gz\\.enc$`),
    );
    const head = await s3Client().send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    expect(head.ContentLength).toBe(b.sizeBytes);
    const raw = (await (
      await s3Client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }))
    ).Body!.transformToByteArray()) as Uint8Array;
    expect(Buffer.from(raw.subarray(0, 8)).toString("latin1")).toMatch(/^COFFER/); // sealed, not a gzip stream
    const dir = await restoreFromS3(key, true);
    const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
    expect(manifest.postgres[0].tables).toEqual([{ schema: "public", table: "items", rows: 3 }]);
    const sql = readFileSync(path.join(dir, `postgres/${s.database}.sql`), "utf8");
    expect(sql).toContain("COPY public.items (id, label) FROM stdin;\n1\titem 1\n2\titem 2\n3\titem 3\n\\.");
    expect(b.manifest).toMatchObject({ server: expect.any(String) });
  });

  it("runs a backup requested through lib's dispatch, as Back up now does, on the engine registered there", async () => {
    const s = await setup();
    const { id } = await requestBackup(s.t, {
      serverId: s.serverId,
      destinationIds: s.destinationIds,
      encrypted: true,
    });
    await dispatch.backupRequested({ teamId: s.t.id, serverId: s.serverId, backupId: id });
    await engine.idle();
    expect(await getBackup(s.t, id)).toMatchObject({ status: "succeeded", trigger: "manual", attempts: 1 });
  });

  it("shows the compressed dump's bytes as progress while pg_dump runs, before the archive streams", async () => {
    const s = await setup({ rows: 3_000_000 });
    const id = await backUp(s);
    // The server is this machine: its spool and its pg_dump are here.
    const spooled = () =>
      readdirSync(WORK_DIR)
        .filter((d) => d.startsWith(`coffer-${id}`))
        .reduce(
          (n, d) => n + (statSync(path.join(WORK_DIR, d, "dump-0.sql.gz"), { throwIfNoEntry: false })?.size ?? 0),
          0,
        );
    const until = async (ok: () => boolean | Promise<boolean>, what: string) => {
      for (const end = Date.now() + 30_000; !(await ok()); await sleep(5))
        if (Date.now() > end) throw new Error(`waited 30 s for ${what}`);
    };
    await until(() => spooled() > 0, "the spool");
    const [dump] = processesOf("pg_dump", `PGAPPNAME=coffer:${id}`);
    const pid = Number(dump!.trim().split(/\s+/)[0]);
    // Held for a second (progress comes at most once a second), let go for a moment, held again.
    process.kill(pid, "SIGSTOP");
    try {
      await sleep(1_100);
      process.kill(pid, "SIGCONT");
      await sleep(20);
      process.kill(pid, "SIGSTOP");
      await until(async () => (await getBackup(s.t, id)).bytesDone > 0, "progress");
      const b = await getBackup(s.t, id);
      expect(b.status).toBe("running");
      expect(b.log.map((l) => l.message)).not.toContain("Streaming the archive…");
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await engine.idle();
    expect(await getBackup(s.t, id)).toMatchObject({ status: "succeeded" });
  });

  it("stores an unencrypted backup as the plain .tar.gz", async () => {
    const s = await setup();
    const id = await backUp(s, false);
    await engine.idle();
    const b = await getBackup(s.t, id);
    expect(b).toMatchObject({ status: "succeeded", encrypted: false });
    expect(b.sizeBytes).toBe(b.archiveBytes);
    const dir = await restoreFromS3(`${s.prefix}/${b.locations[0]!.objectKey}`, false);
    expect(readFileSync(path.join(dir, `postgres/${s.database}.sql`), "utf8")).toContain("3\titem 3");
  });

  it("a pg_dump failure fails the backup with pg_dump's reason and leaves no object", async () => {
    const s = await setup();
    const c = postgres(inject("postgresAdminUrl")!.replace(/\/postgres$/, `/${s.database}`), {
      max: 1,
      onnotice: () => {},
    });
    const role = `ro_${randomBytes(3).toString("hex")}`;
    await c.unsafe(`create role ${role} login; create table secrets (v text); grant select on items to ${role};`);
    await c.end();
    const { id: limited } = await createSource(s.t, {
      serverId: s.serverId,
      kind: "postgres",
      name: "limited",
      pgHost: "127.0.0.1",
      pgPort,
      pgDatabase: s.database,
      pgUser: role,
      pgSslmode: "disable",
    });
    const b = await backUpNow(engine, s.t, {
      serverId: s.serverId,
      sourceIds: [limited],
      destinationIds: s.destinationIds,
      encrypted: true,
    });
    expect(b.status).toBe("failed");
    expect(b.error).toMatch(/^Reading of src_\w+ \(limited\) failed: .*permission denied for table secrets/);
    expect(b.locations.every((l) => l.status === "deleted")).toBe(true);
    expect(await s3Keys(s.prefix)).toEqual([]);
    expect(b.log.at(-1)).toMatchObject({
      level: "error",
      message: expect.stringMatching(/^Failed: .*permission denied/),
    });
  });

  it("a backup expected to be larger than a destination takes fails before anything is dumped or written", async () => {
    const s = await setup();
    s.destinationIds.pop(); // the S3 bucket alone: S3 takes objects up to 5 TiB
    await insertBackupRow({
      teamId: s.t.id,
      serverId: s.serverId,
      trigger: "schedule",
      status: "succeeded",
      encrypted: true,
      sourceIds: s.sourceIds,
      destinationIds: s.destinationIds,
      fileName: "earlier.tar.gz",
      sizeBytes: 6 * 1024 ** 4,
      finishedAt: new Date(),
    });
    const id = await backUp(s);
    await engine.idle();
    const b = await getBackup(s.t, id);
    expect(b).toMatchObject({ status: "failed", attempts: 1 });
    expect(b.error).toBe(
      "A backup of about 6.0 TiB (the size of the last backup of these sources) does not fit: bucket takes objects " +
        "of at most 5.0 TiB (S3: up to 10,000 parts, 1.23 GiB growing to 5 GiB). To go on, choose another " +
        "destination, or split the sources into smaller backups.",
    );
    const log = b.log.map((l) => l.message);
    expect(log).toContain("Expecting about 6.0 TiB, the size of the last backup of these sources.");
    expect(log.filter((m) => /^(Dumping|Writing to) /.test(m))).toEqual([]);
    expect(b.locations.every((l) => l.status !== "stored" && l.sizeBytes === null)).toBe(true);
    expect(await s3Keys(s.prefix)).toEqual([]);
    const open = await s3Client().send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: s.prefix }));
    expect(open.Uploads ?? []).toEqual([]);
  });

  it("a destination failing part-way fails the whole backup and removes the other copies", async () => {
    const dirSrc = mkdtempSync(path.join(scratch, "data-"));
    writeFileSync(path.join(dirSrc, "blob.bin"), randomBytes(12 * 1024 * 1024));
    const target = new URL(s3.endpoint);
    const cut = await startProxy(
      { host: target.hostname, port: Number(target.port) },
      { cutAfterBytes: 3 * 1024 * 1024 },
    );
    proxies.push(cut);
    const s = await setup({ s3Endpoint: `http://127.0.0.1:${cut.port}`, directory: dirSrc });
    const id = await backUp(s);
    await engine.idle();
    const b = await getBackup(s.t, id);
    expect(b.status).toBe("failed");
    expect(b.error).toMatch(/^bucket: /);
    expect(b.locations.map((l) => l.status)).toEqual(["deleted", "deleted"]);
    expect(await s3Keys(s.prefix)).toEqual([]);
    expect(cut.connections).toBeGreaterThan(0);
  });

  it("retries after a transient failure (the SSH connection lost mid-stream) and succeeds", async () => {
    const dirSrc = mkdtempSync(path.join(scratch, "data-"));
    writeFileSync(path.join(dirSrc, "blob.bin"), randomBytes(4 * 1024 * 1024));
    const flaky = await startProxy({ host: sshd.host, port: sshd.port }, { cutAfterBytes: 1024 * 1024, cuts: 1 });
    proxies.push(flaky);
    const s = await setup({ sshPort: flaky.port, directory: dirSrc });
    const id = await backUp(s);
    await engine.idle();
    const b = await getBackup(s.t, id);
    expect(b.status).toBe("succeeded");
    expect(b.log.some((l) => l.level === "error")).toBe(true);
    expect(b.log.at(-1)!.message).toMatch(/^Succeeded/);
    const dir = await restoreFromS3(`${s.prefix}/${b.locations[0]!.objectKey}`, true);
    expect(sha256(readFileSync(path.join(dir, "files", dirSrc.slice(1), "blob.bin")))).toBe(
      sha256(readFileSync(path.join(dirSrc, "blob.bin"))),
    );
  });

  it("cancelling a running backup stops it and leaves nothing stored", async () => {
    const dirSrc = mkdtempSync(path.join(scratch, "data-"));
    writeFileSync(path.join(dirSrc, "blob.bin"), randomBytes(24 * 1024 * 1024));
    const target = new URL(s3.endpoint);
    const slow = await startProxy(
      { host: target.hostname, port: Number(target.port) },
      { bytesPerSecond: 2 * 1024 * 1024 },
    );
    proxies.push(slow);
    const s = await setup({ s3Endpoint: `http://127.0.0.1:${slow.port}`, directory: dirSrc });
    const id = await backUp(s);
    for (let i = 0; i < 300; i++) {
      const b = await getBackup(s.t, id);
      if (b.status === "running" && b.bytesDone > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await cancelBackup(s.t, id);
    await engine.idle();
    const b = await getBackup(s.t, id);
    expect(b.status).toBe("cancelled");
    expect(b.error).toBe(`Cancelled by ${s.user.email}.`);
    expect(b.locations.map((l) => l.status)).toEqual(["deleted", "deleted"]);
    expect(await s3Keys(s.prefix)).toEqual([]);
    await expect(cancelBackup(s.t, id)).rejects.toThrow(/already cancelled/);
  });

  it("runs two backups of one server one after the other, never overlapping", async () => {
    const s = await setup();
    const first = await backUp(s);
    const second = await backUp(s);
    engine.send([backupEvent({ teamId: s.t.id, serverId: s.serverId, backupId: first })]); // a repeated event changes nothing
    await engine.idle();
    const [a, b] = await Promise.all([getBackup(s.t, first), getBackup(s.t, second)]);
    expect([a.status, b.status]).toEqual(["succeeded", "succeeded"]);
    expect(a.attempts).toBe(1);
    expect(a.finishedAt!.getTime()).toBeLessThanOrEqual(b.startedAt!.getTime());
    expect((await listBackups(s.t, { serverId: s.serverId })).rows.map((r) => r.id)).toEqual([second, first]);
  });

  it("another team can neither see nor cancel a backup", async () => {
    const s = await setup();
    const id = await backUp(s);
    await engine.idle();
    const other = await (await signedUpUser("Mallory")).team("owner");
    await expect(getBackup(other, id)).rejects.toThrow(AppError);
    await expect(cancelBackup(other, id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect((await listBackups(other)).rows).toEqual([]);
    const viewer = { ...s.t, role: "viewer" as const };
    await expect(
      requestBackup(viewer, { serverId: s.serverId, destinationIds: s.destinationIds, encrypted: true }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("a step repeated after the backup was stored returns it and leaves every copy in place", async () => {
    const s = await setup();
    const id = await backUp(s);
    await engine.idle();
    const b = await getBackup(s.t, id);
    expect(b.status).toBe("succeeded");
    const keys = await s3Keys(s.prefix);
    expect(keys).toHaveLength(1);
    // The dump step sent again (its answer lost), then the run's failure handler (a later step ran out of retries).
    expect(await transferBackup(s.t.id, id)).toEqual({
      sizeBytes: b.sizeBytes,
      sha256: b.sha256,
      archiveBytes: b.archiveBytes,
      locations: 2,
    });
    expect(await failRun(s.t.id, id, "A later step failed.")).toBe("unchanged");
    const after = await getBackup(s.t, id);
    expect(after).toMatchObject({ status: "succeeded", error: null, sha256: b.sha256 });
    expect(after.locations.map((l) => l.status)).toEqual(["stored", "stored"]);
    expect(await s3Keys(s.prefix)).toEqual(keys);
    const dir = await restoreFromS3(keys[0]!, true);
    expect(readFileSync(path.join(dir, `postgres/${s.database}.sql`), "utf8")).toContain("3\titem 3");
  });

  it("a dump step sent again while its first execution still runs here takes the run over, and the stored backup opens", async () => {
    // An Inngest server sends a step again when it lost the connection to it, to whichever
    // instance it reaches: here, the one still running it.
    const dirSrc = mkdtempSync(path.join(scratch, "data-"));
    const blob = randomBytes(6 * 1024 * 1024);
    writeFileSync(path.join(dirSrc, "blob.bin"), blob);
    const target = new URL(s3.endpoint);
    const slow = await startProxy(
      { host: target.hostname, port: Number(target.port) },
      { bytesPerSecond: 2 * 1024 * 1024 },
    );
    proxies.push(slow);
    const s = await setup({ s3Endpoint: `http://127.0.0.1:${slow.port}`, directory: dirSrc });
    const { id } = await requestBackup(s.t, {
      serverId: s.serverId,
      sourceIds: s.sourceIds,
      destinationIds: s.destinationIds,
      encrypted: true,
    });
    // The workflow's step, as the engine runs it, twice.
    const first = transferBackup(s.t.id, id).then(
      () => "stored",
      (e: Error) => e.message,
    );
    await expect.poll(async () => (await getBackup(s.t, id)).bytesDone, { timeout: 30_000 }).toBeGreaterThan(0);
    const again = (await transferBackup(s.t.id, id))!;
    expect(await first).toMatch(/^A later attempt took over the (run|backup)\.$/);

    const b = await getBackup(s.t, id);
    expect(b).toMatchObject({ status: "succeeded", attempts: 2, sha256: again.sha256 });
    expect(b.log.map((l) => l.message)).toContain(
      "Attempt 2 started: the step was sent again while attempt 1 still ran (the workflow engine lost the connection to it); attempt 1 stops.",
    );
    expect(b.locations.map((l) => l.status)).toEqual(["stored", "stored"]);
    expect(await s3Keys(s.prefix)).toHaveLength(1);
    // Every copy opens with the data key the backup row holds, as downloads and restores read it.
    const copies = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const { body, copy } = await openArchive(s.t, await succeededBackup(s.t, id), { skip: copies });
      copies.add(copy);
      const dir = mkdtempSync(path.join(scratch, "x-"));
      await pipeline(body, createWriteStream(path.join(dir, "backup.tar.gz")));
      execFileSync("tar", ["xzf", path.join(dir, "backup.tar.gz"), "-C", dir]);
      expect(sha256(readFileSync(path.join(dir, "files", dirSrc.slice(1), "blob.bin")))).toBe(sha256(blob));
    }
  });

  it("a failed run's objects are recorded as leftovers before they are removed, so a stop in between leaves them to the sweeper", async () => {
    // The bucket's endpoint stops answering: removing the object waits.
    const sockets = new Set<Socket>();
    const silent = createNetServer((socket) => sockets.add(socket.on("data", () => {})));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const s = await setup({ s3Endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` });
    const id = await insertBackupRow({
      teamId: s.t.id,
      serverId: s.serverId,
      trigger: "manual",
      encrypted: true,
      fileName: "x.tar.gz",
      status: "running",
      attempts: 1,
      heartbeatAt: new Date(),
      sourceIds: s.sourceIds,
      destinationIds: [s.destinationIds[0]!],
    });
    await insertLocationRow({
      teamId: s.t.id,
      backupId: id,
      destinationId: s.destinationIds[0]!,
      objectKey: `x-${id}.tar.gz.enc`,
    });

    const failing = failRun(s.t.id, id, "The server went away.");
    await expect.poll(() => sockets.size, { timeout: 10_000 }).toBeGreaterThan(0);
    expect((await getBackup(s.t, id)).status).toBe("failed");
    expect(await backupLeftoversPendingAt(id)).toBeInstanceOf(Date);

    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
    expect(await failing).toBe("failed");
    expect(await backupLeftoversPendingAt(id)).toBeInstanceOf(Date);
    expect((await getBackup(s.t, id)).locations[0]!.error).toMatch(/^Could not remove the partial object: /);
  });

  it("the sweeper leaves a run that a retry took up again after it was found stale", async () => {
    const s = await setup();
    const id = await insertBackupRow({
      teamId: s.t.id,
      serverId: s.serverId,
      trigger: "manual",
      encrypted: true,
      fileName: "x.tar.gz",
      status: "running",
      attempts: 2,
      heartbeatAt: new Date(), // the retry's fresh heartbeat
      sourceIds: s.sourceIds,
      destinationIds: s.destinationIds,
    });
    const foundStaleAt = new Date(Date.now() - 2 * 60_000);
    expect(await failRun(s.t.id, id, "stale", { dead: true, staleAt: foundStaleAt })).toBe("unchanged");
    expect(await getBackup(s.t, id)).toMatchObject({ status: "running", attempts: 2, error: null });
    // Still stale when it fails it: failed.
    expect(await failRun(s.t.id, id, "stale", { dead: true, staleAt: new Date(Date.now() + 2 * 60_000) })).toBe(
      "failed",
    );
  });
});

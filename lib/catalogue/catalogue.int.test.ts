import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "@/db/columns";
import { restoreEvent } from "@/inngest/events";
import { inProcessEngine, type InProcessEngine } from "@/inngest/in-process";
import { MAX_MANIFEST_BYTES } from "@/lib/backups/manifest";
import { getBackup, listBackups } from "@/lib/backups/queries";
import { newBackupDataKey } from "@/lib/crypto/data-key";
import { createEncryptStream } from "@/lib/crypto/envelope";
import type { Keyring } from "@/lib/crypto/master-keys";
import { closeDatabase } from "@/lib/db";
import { createDestination } from "@/lib/destinations/mutations";
import { env } from "@/lib/env";
import { requestDatabaseRestore, requestVerification } from "@/lib/restores/mutations";
import { getRestore } from "@/lib/restores/queries";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { createAdapter, type S3StorageConfig } from "@/lib/storage";
import type { TeamContext } from "@/lib/teams/context";
import { signedUpUser } from "@/test/factories";
import { startPgCluster, type PgCluster } from "@/test/pg-cluster";
import { startS3rver, type S3rverServer } from "@/test/servers/s3rver";
import { startSshd, type TestSshd } from "@/test/servers/sshd";
import { scanDestination, type ScanEvent, type ScannedObject } from "./scan";
import { takeBackBackups } from "./take-back";
import { backUpNow } from "@/test/backups";

// The README's "Coffer's own database is lost": two teams back up to one bucket, Coffer's database
// is dropped, a fresh Coffer with the same master keys scans the bucket and takes one team's
// backups back in, then restores and verifies them as before.

let pg: PgCluster;
let s3: S3rverServer;
let sshd: TestSshd;
let engine: InProcessEngine;
const prefix = `shared-${randomBytes(3).toString("hex")}`;

beforeAll(async () => {
  [pg, s3, sshd] = await Promise.all([startPgCluster(), startS3rver({ refuseArchivedReads: true }), startSshd()]);
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  for (const [db, n] of [
    ["shop_a", 1234],
    ["shop_b", 77],
  ] as const) {
    psql("postgres", `create database ${db}`);
    psql(
      db,
      `create table orders (id int primary key, label text); insert into orders select g, 'order ' || g from generate_series(1, ${n}) g;`,
    );
  }
}, 60_000);
afterAll(async () => {
  await engine?.stop();
  await Promise.all([pg?.stop(), s3?.stop(), sshd?.stop()]);
});

function psql(db: string, sql: string) {
  return execFileSync("psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql], {
    env: { ...process.env, PGHOST: "127.0.0.1", PGPORT: String(pg.port), PGUSER: "postgres" },
  })
    .toString()
    .trim();
}
const digest = (db: string) =>
  psql(db, "select count(*) || ':' || md5(string_agg(id || '/' || label, ',' order by id)) from orders");

const s3Config = (): S3StorageConfig => ({
  kind: "s3",
  bucket: s3.bucket,
  prefix,
  region: s3.region,
  endpoint: s3.endpoint,
  forcePathStyle: true,
  accessKeyId: s3.accessKeyId,
  secretAccessKey: s3.secretAccessKey,
});

async function pgSource(t: TeamContext, serverId: string, database: string) {
  return createSource(t, {
    serverId,
    kind: "postgres",
    name: database,
    pgHost: "127.0.0.1",
    pgPort: pg.port,
    pgDatabase: database,
    pgUser: "postgres",
    pgSslmode: "disable",
  });
}

/** A team with a server whose database backs up to the shared bucket. */
async function oldTeam(name: string, server: string, database: string) {
  const t = await (await signedUpUser(name)).team("admin");
  const { id: serverId } = await createServer(t, { kind: "local", name: server, workDir: "/var/tmp" });
  const { id: sourceId } = await pgSource(t, serverId, database);
  // Every tier in STANDARD: an object in archive storage is read only after a retrieval.
  const { id: destinationId } = await createDestination(t, {
    name: "bucket",
    ...s3Config(),
    classDaily: "STANDARD",
    classWeekly: "STANDARD",
    classMonthly: "STANDARD",
  });
  const backUp = async () => {
    const b = await backUpNow(engine, t, {
      serverId,
      sourceIds: [sourceId],
      destinationIds: [destinationId],
      encrypted: true,
    });
    expect(b.status).toBe("succeeded");
    return b;
  };
  return { t, serverId, backUp };
}

/** Coffer's own database lost: every table gone, then migrated afresh on next use. */
async function dropCofferDatabase() {
  await engine.idle();
  const sql = postgres(env().DATABASE_URL!, { max: 1, onnotice: () => {} });
  await sql.unsafe("drop schema public cascade; create schema public; drop schema if exists drizzle cascade;");
  await sql.end();
  await closeDatabase(); // the next use opens and migrates it afresh
}

async function scan(t: TeamContext, destinationId: string, formerTeamId?: string) {
  const objects: ScannedObject[] = [];
  let done: ScanEvent | undefined;
  await scanDestination(t, destinationId, { formerTeamId }, (e) => {
    if (e.type === "object") objects.push(e.object);
    if (e.type === "done") done = e;
  });
  return { objects, done, by: (backupId: string) => objects.find((o) => o.backupId === backupId) };
}

describe("rebuilding the catalogue from storage", () => {
  it("after Coffer's database is lost, a fresh Coffer takes exactly the team's backups back in; they restore and verify as before", async () => {
    const a = await oldTeam("Alpha", "db1", "shop_a");
    const b = await oldTeam("Beta", "db2", "shop_b");
    const [a1, b1, a2] = [await a.backUp(), await b.backUp(), await a.backUp()];
    const adapter = createAdapter(s3Config());

    // A tampered object: one byte of its first segment flipped in the bucket.
    const tamperedKey = a2.locations[0]!.objectKey;
    const bytes = Buffer.concat(await (await adapter.get(tamperedKey)).toArray());
    const flip = bytes.length - 40;
    bytes[flip] = bytes[flip]! ^ 0x01;
    await adapter.put(tamperedKey, Readable.from([bytes]));

    // An object of the team sealed with a master key this Coffer does not have.
    const gone: Keyring = {
      active: { id: "gone-2025", key: randomBytes(32) },
      byId: new Map(),
      source: "MASTER_KEYS",
    };
    const lostId = newId("bkp");
    const { dek, wrapped } = newBackupDataKey(a.t.id, lostId, gone);
    const sealed = Readable.from([randomBytes(5000)]).pipe(
      createEncryptStream({ dek, wrapped, teamId: a.t.id, backupId: lostId }),
    );
    await adapter.put(`${a.serverId}/db1-20250101-000000-${lostId}.tar.gz.enc`, sealed);
    // One in archive storage, which S3 reads only after a retrieval.
    const archivedKey = `${a.serverId}/db1-20250102-000000-${newId("bkp")}.tar.gz.enc`;
    await adapter.put(archivedKey, Readable.from([randomBytes(100)]));
    await adapter.setStorageClass(archivedKey, "GLACIER");
    // And something that is not a backup at all.
    await adapter.put("notes/readme.txt", Readable.from([Buffer.from("hello")]));

    const oldTeamA = a.t.id;
    const oldTeamB = b.t.id;
    await dropCofferDatabase();

    // A fresh Coffer, the same MASTER_KEYS: the team signs up again and adds its server and the bucket.
    const t = await (await signedUpUser("Alpha")).team("admin");
    expect(t.id).not.toBe(oldTeamA);
    const { id: serverId } = await createServer(t, { kind: "local", name: "db1", workDir: "/var/tmp" });
    const { id: destinationId } = await createDestination(t, { name: "bucket", ...s3Config() });

    // Without the former team id, nothing in the bucket is this team's.
    const blind = await scan(t, destinationId);
    expect(blind.objects.filter((o) => o.verdict === "importable")).toEqual([]);

    const found = await scan(t, destinationId, oldTeamA);
    expect(found.done).toMatchObject({ type: "done", listed: 6, backups: 5 });
    expect(found.objects.find((o) => o.key === archivedKey)).toMatchObject({
      verdict: "unreadable",
      reason: expect.stringContaining("archive storage"),
    });
    expect(found.by(a1.id)).toMatchObject({
      verdict: "importable",
      teamId: oldTeamA,
      keyId: process.env.MASTER_KEYS!.split(":")[0],
      size: a1.sizeBytes,
      serverId: a.serverId,
      server: "db1",
      sources: ["shop_a"],
      archiveBytes: a1.archiveBytes,
    });
    expect(found.by(b1.id)).toMatchObject({ verdict: "other-team", teamId: oldTeamB });
    expect(found.by(a2.id)).toMatchObject({ verdict: "damaged", reason: expect.stringMatching(/segment 0 failed/) });
    expect(found.by(lostId)).toMatchObject({
      verdict: "missing-key",
      keyId: "gone-2025",
      reason: expect.stringContaining('"gone-2025"'),
    });

    const taken = await takeBackBackups(t, {
      destinationId,
      formerTeamId: oldTeamA,
      objects: [a1, a2, b1].map((x) => ({ key: x.locations[0]!.objectKey, serverId })),
    });
    expect(taken.taken).toEqual([{ key: a1.locations[0]!.objectKey, backupId: a1.id }]);
    expect(taken.skipped.map((s) => s.key)).toEqual([a2.locations[0]!.objectKey, b1.locations[0]!.objectKey]);

    // In the catalogue as before: the same id, sizes, manifest and location.
    const back = await getBackup(t, a1.id);
    expect(back).toMatchObject({
      status: "succeeded",
      trigger: "import",
      encrypted: true,
      sizeBytes: a1.sizeBytes,
      archiveBytes: a1.archiveBytes,
      fileName: a1.fileName,
    });
    expect(back.locations).toMatchObject([{ objectKey: a1.locations[0]!.objectKey, status: "stored" }]);
    expect((await listBackups(t, { serverId })).rows.map((r) => r.id)).toEqual([a1.id]);
    expect((await scan(t, destinationId, oldTeamA)).by(a1.id)).toMatchObject({ verdict: "in-catalogue" });

    // Restored into a new database: the same rows.
    const { id: connection } = await pgSource(t, serverId, "postgres");
    const { id: restoreId } = await requestDatabaseRestore(t, {
      backupId: a1.id,
      member: "postgres/shop_a.sql",
      serverId,
      connectionSourceId: connection,
      targetDatabase: "shop_a_back",
      mode: "new",
    });
    engine.send([restoreEvent({ teamId: t.id, serverId, restoreId, kind: "database" })]);
    await engine.idle();
    expect(await getRestore(t, restoreId)).toMatchObject({ status: "succeeded" });
    expect(digest("shop_a_back")).toBe(digest("shop_a"));

    // And it verifies.
    const v = await requestVerification(t, { backupId: a1.id, connectionSourceId: connection });
    engine.send([restoreEvent({ teamId: t.id, serverId: v.serverId, restoreId: v.id, kind: "verify" })]);
    await engine.idle();
    expect(await getRestore(t, v.id)).toMatchObject({ status: "succeeded", result: { differences: [] } });

    // The former id is this team's now: another team cannot claim it, nor take the backups.
    const other = await (await signedUpUser("Mallory")).team("admin");
    const { id: otherDest } = await createDestination(other, { name: "bucket", ...s3Config() });
    await expect(scan(other, otherDest, oldTeamA)).rejects.toMatchObject({ code: "CONFLICT" });
    // Another team's destination does not exist for it; a member (not an admin) may not scan.
    await expect(scan(other, destinationId)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      takeBackBackups(other, { destinationId, objects: [{ key: a1.locations[0]!.objectKey, serverId }] }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(scan({ ...t, role: "member" }, destinationId)).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("a scan stops when cancelled, and refuses a former id that is a team of this Coffer", async () => {
    const t = await (await signedUpUser("Gamma")).team("admin");
    const config = { ...s3Config(), prefix: `cancel-${randomBytes(3).toString("hex")}` };
    const { id: destinationId } = await createDestination(t, { name: "bucket", ...config });
    const adapter = createAdapter(config);
    for (let i = 0; i < 3; i++) await adapter.put(`srv/${i}.tar.gz.enc`, Readable.from([Buffer.from("not a backup")]));
    const stop = new AbortController();
    const seen: ScanEvent[] = [];
    const scanning = scanDestination(t, destinationId, { signal: stop.signal }, (e) => {
      seen.push(e);
      stop.abort(new Error("cancelled by the user"));
    });
    await expect(scanning).rejects.toThrow("cancelled by the user");
    expect(seen).toMatchObject([
      { type: "object", object: { verdict: "damaged", reason: expect.stringMatching(/bad magic/) } },
    ]);

    const member = await (await signedUpUser("Delta")).team("admin");
    await expect(scanDestination(t, destinationId, { formerTeamId: member.id }, () => {})).rejects.toMatchObject({
      code: "CONFLICT",
    });
  });

  it("reads only the segments up to the manifest: an object damaged further on still shows its manifest", async () => {
    const t = await (await signedUpUser("Zeta")).team("admin");
    const folder = mkdtempSync(path.join(tmpdir(), "coffer-scan-"));
    writeFileSync(path.join(folder, "blob.bin"), randomBytes(3 * 1024 * 1024));
    const { id: serverId } = await createServer(t, { kind: "local", name: "files", workDir: "/var/tmp" });
    const { id: sourceId } = await createSource(t, {
      serverId,
      kind: "directory",
      name: "blob",
      paths: [folder],
      excludes: [],
    });
    const config = { ...s3Config(), prefix: `partial-${randomBytes(3).toString("hex")}` };
    const { id: destinationId } = await createDestination(t, { name: "bucket", ...config, classMonthly: "STANDARD" });
    const b = await backUpNow(engine, t, {
      serverId,
      sourceIds: [sourceId],
      destinationIds: [destinationId],
      encrypted: true,
    });
    expect(b.status).toBe("succeeded");
    const adapter = createAdapter(config);
    const key = b.locations[0]!.objectKey;
    const bytes = Buffer.concat(await (await adapter.get(key)).toArray());
    const last = bytes.length - 1; // inside the final segment (the object holds 3 of them)
    bytes[last] = bytes[last]! ^ 0x01;
    await adapter.put(key, Readable.from([bytes]));
    const found = await scan(t, destinationId);
    expect(found.by(b.id)).toMatchObject({ verdict: "in-catalogue", server: "files", sources: ["blob"] });
    rmSync(folder, { recursive: true, force: true });
  });

  it("a backup of many files, whose manifest is larger than an upload's may be, is found as it is, not as damaged", async () => {
    const t = await (await signedUpUser("Eta")).team("admin");
    // 22 000 empty files under a long path: a manifest of about 70 MiB, as 500 000 files' would be.
    const folder = mkdtempSync(path.join(tmpdir(), "coffer-many-"));
    let deep = folder;
    for (let i = 0; i < 12; i++) deep = path.join(deep, `${"d".repeat(240)}${i}`);
    mkdirSync(deep, { recursive: true });
    for (let i = 0; i < 22_000; i++) writeFileSync(path.join(deep, `${"f".repeat(230)}-${i}`), "");
    const { id: serverId } = await createServer(t, { kind: "local", name: "files", workDir: "/var/tmp" });
    const { id: sourceId } = await createSource(t, {
      serverId,
      kind: "directory",
      name: "many",
      paths: [folder],
      excludes: [],
    });
    const config = { ...s3Config(), prefix: `many-${randomBytes(3).toString("hex")}` };
    const { id: destinationId } = await createDestination(t, { name: "bucket", ...config });
    const b = await backUpNow(engine, t, {
      serverId,
      sourceIds: [sourceId],
      destinationIds: [destinationId],
      encrypted: true,
    });
    expect(b.status).toBe("succeeded");
    expect(Buffer.byteLength(JSON.stringify(b.manifest))).toBeGreaterThan(MAX_MANIFEST_BYTES);
    const found = await scan(t, destinationId);
    expect(found.by(b.id)).toMatchObject({ verdict: "in-catalogue", server: "files", sources: ["many"] });
    rmSync(folder, { recursive: true, force: true });
  });

  it("a destination whose credentials may not list its objects says so, and nothing is scanned", async () => {
    const t = await (await signedUpUser("Epsilon")).team("admin");
    const { id: serverId } = await createServer(t, {
      kind: "ssh",
      name: "nas",
      host: sshd.host,
      port: sshd.port,
      username: sshd.passwordUser,
      authMethod: "password",
      password: sshd.password,
      workDir: "/tmp",
    });
    // Root's folder: the SSH user may enter it but not read what is in it.
    const dir = `/tmp/coffer-nolist-${randomBytes(3).toString("hex")}`;
    mkdirSync(dir, { mode: 0o711 });
    try {
      const { id: destinationId } = await createDestination(t, {
        kind: "server",
        name: "nas-dir",
        serverId,
        path: dir,
      });
      const events: ScanEvent[] = [];
      const failure = await scanDestination(t, destinationId, {}, (e) => void events.push(e)).catch((e: unknown) => e);
      expect(failure).toMatchObject({
        code: "UPSTREAM",
        message: expect.stringMatching(
          /^Coffer could not list this destination, so nothing was scanned \(Scan for backups needs permission to list its objects\): .*Permission denied/,
        ),
      });
      expect(events).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

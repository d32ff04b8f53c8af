import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Gunzip } from "node:zlib";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDestination } from "@/lib/destinations/mutations";
import { env } from "@/lib/env";
import { gunzip } from "@/lib/restores/gunzip";
import { requestDatabaseRestore, requestVerification } from "@/lib/restores/mutations";
import { getRestore } from "@/lib/restores/queries";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { setBackupRow, setLocationRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { pathWithout } from "@/test/hidden-tools";
import { startSshd, type TestSshd } from "@/test/servers/sshd";
import { restoreEvent } from "../events";
import { inProcessEngine, type InProcessEngine } from "../in-process";
import { backUpNow } from "@/test/backups";

/**
 * A Coffer host without igzip (nor pigz): restores and verifications decompress with Node's zlib
 * the archives the server's igzip made. The host's choice is made once per process, so this file
 * hides the tools from its own PATH before anything decompresses; the SSH server keeps its PATH.
 */

let sshd: TestSshd;
let pgPort: number;
let admin: postgres.Sql;
let engine: InProcessEngine;
let scratch: string;

beforeAll(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), "coffer-zlib-"));
  process.env.PATH = pathWithout(["igzip", "pigz"], scratch);
  sshd = await startSshd();
  const adminUrl = inject("postgresAdminUrl")!;
  pgPort = Number(new URL(adminUrl).port);
  admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
});
afterAll(async () => {
  await engine?.stop();
  await Promise.all([sshd?.stop(), admin?.end()]);
});

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const dbUrl = (name: string) => inject("postgresAdminUrl")!.replace(/\/postgres$/, `/${name}`);

async function rowsDigest(database: string) {
  const c = postgres(dbUrl(database), { max: 1, onnotice: () => {} });
  try {
    const [r] = await c.unsafe(`select md5(string_agg(id || ':' || label, ',' order by id)) as d from items`);
    return r!.d as string;
  } finally {
    await c.end();
  }
}

/** A team with an SSH server, a database of 20 000 rows and a folder as sources, and a local-disk destination. */
async function setup() {
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
  const c = postgres(dbUrl(database), { max: 1, onnotice: () => {} });
  await c.unsafe(
    `create table items (id int primary key, label text); insert into items select g, 'item ' || g || ' ' || md5(g::text) from generate_series(1, 20000) g;`,
  );
  await c.end();
  const { id: dbId } = await createSource(t, {
    serverId,
    kind: "postgres",
    name: "app db",
    pgHost: "127.0.0.1",
    pgPort,
    pgDatabase: database,
    pgUser: "postgres",
    pgSslmode: "disable",
  });
  const folder = mkdtempSync(path.join(scratch, "files-"));
  writeFileSync(path.join(folder, "blob.bin"), randomBytes(2 * 1024 * 1024));
  const { id: dirId } = await createSource(t, {
    serverId,
    kind: "directory",
    name: "files",
    paths: [folder],
    excludes: [],
  });
  const prefix = `z-${randomBytes(4).toString("hex")}`;
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix });
  return { t, serverId, dbId, sourceIds: [dbId, dirId], database, destinationId, prefix };
}
type Setup = Awaited<ReturnType<typeof setup>>;

async function backedUp(s: Setup, encrypted: boolean) {
  const b = await backUpNow(engine, s.t, {
    serverId: s.serverId,
    sourceIds: s.sourceIds,
    destinationIds: [s.destinationId],
    encrypted,
  });
  expect(b.status).toBe("succeeded");
  expect(b.manifest).toMatchObject({ compression: { setting: "fast", tool: "igzip", level: 1 } });
  return b;
}

async function run(t: Setup["t"], restoreId: string) {
  const r = await getRestore(t, restoreId);
  engine.send([restoreEvent({ teamId: t.id, serverId: r.serverId, restoreId, kind: r.kind })]);
  await engine.idle();
  return getRestore(t, restoreId);
}

describe("restores and verifications on a Coffer host without igzip", () => {
  it("decompress with Node's zlib", () => {
    const stream = gunzip();
    expect(stream).toBeInstanceOf(Gunzip);
    stream.destroy();
  });

  it("verifies and restores an archive the server's igzip made", async () => {
    const s = await setup();
    const b = await backedUp(s, true);
    const { id: verificationId } = await requestVerification(s.t, { backupId: b.id });
    expect(await run(s.t, verificationId)).toMatchObject({
      status: "succeeded",
      result: { tables: 1, files: 2, differences: [], databases: [{ database: s.database, tables: 1, rows: 20000 }] },
    });

    const target = `zlib_${randomBytes(4).toString("hex")}`;
    const { id: restoreId } = await requestDatabaseRestore(s.t, {
      backupId: b.id,
      member: `postgres/${s.database}.sql`,
      serverId: s.serverId,
      connectionSourceId: s.dbId,
      targetDatabase: target,
      mode: "new",
    });
    expect(await run(s.t, restoreId)).toMatchObject({ status: "succeeded", error: null });
    expect(await rowsDigest(target)).toBe(await rowsDigest(s.database));
    await admin.unsafe(`drop database ${target}`);
  });

  it("a damaged gzip stream fails the verification as not valid gzip data, in plain words (not zlib's)", async () => {
    const s = await setup();
    const b = await backedUp(s, false);
    const stored = path.join(env().DATA_DIR, "storage", s.t.id, s.prefix, b.locations[0]!.objectKey);
    const data = readFileSync(stored);
    for (let i = 0; i < 64; i++) data[Math.floor(data.length / 2) + i]! ^= 0xff;
    writeFileSync(stored, data);
    expect(sha256(data)).not.toBe(b.sha256);
    // Recorded as stored, so only the gzip reader can tell: in a large copy it does long before the
    // copy's end, where its SHA-256 is checked (lib/backups/download.int.test.ts).
    await setLocationRow(b.id, b.locations[0]!.destinationId, { sha256: sha256(data) });
    await setBackupRow(b.id, { sha256: sha256(data) });
    const { id } = await requestVerification(s.t, { backupId: b.id });
    const r = await run(s.t, id);
    expect(r.status).toBe("failed");
    const said = r.result!.differences.join("\n");
    expect(said).toContain(
      "The archive cannot be read: it is not gzip-compressed data, or that data is damaged (a different format, or changed since it was made). Verify the backup, or restore another.",
    );
    expect(said).not.toMatch(/invalid (block|distance|code)|header check|data check/i);
  });
});

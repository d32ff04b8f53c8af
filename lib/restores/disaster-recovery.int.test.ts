import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupEvent, restoreEvent } from "@/inngest/events";
import { inProcessEngine, type InProcessEngine } from "@/inngest/in-process";
import { requestBackup } from "@/lib/backups/mutations";
import { getBackup, listBackups } from "@/lib/backups/queries";
import { createDestination } from "@/lib/destinations/mutations";
import { env } from "@/lib/env";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { signedUpUser } from "@/test/factories";
import { startPgCluster, type PgCluster } from "@/test/pg-cluster";
import { startSshd, type TestSshd } from "@/test/servers/sshd";
import { requestDatabaseRestore } from "./mutations";
import { getRestore } from "./queries";

// The README's Disaster recovery section, run as written: its shell blocks verbatim, its UI steps
// through the same lib calls the pages make.
const root = path.resolve(import.meta.dirname, "../..");
const readme = readFileSync(path.join(root, "README.md"), "utf8");
const block = (name: string) => {
  const m = new RegExp(`<!-- dr:${name} -->\\n\`\`\`bash\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!m) throw new Error(`README.md has no dr:${name} block`);
  return m[1]!;
};

let pg: PgCluster;
let sshd: TestSshd;
let engine: InProcessEngine;
let work: string;

beforeAll(async () => {
  [pg, sshd] = await Promise.all([startPgCluster(), startSshd()]);
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  // Inside the checkout, as the README says: `npx coffer` is the package's own bin.
  mkdirSync(path.join(root, ".data"), { recursive: true });
  work = mkdtempSync(path.join(root, ".data", "dr-"));
  psql("postgres", "create database shop");
  psql(
    "shop",
    "create table orders (id int primary key, label text); insert into orders select g, 'order ' || g from generate_series(1, 1234) g;",
  );
}, 60_000);
afterAll(async () => {
  await engine?.stop();
  rmSync(work, { recursive: true, force: true });
  await Promise.all([pg?.stop(), sshd?.stop()]);
});

const pgEnv = () => ({ PGHOST: "127.0.0.1", PGPORT: String(pg.port), PGUSER: "postgres" });
function psql(db: string, sql: string) {
  return execFileSync("psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql], {
    env: { ...process.env, ...pgEnv() },
  })
    .toString()
    .trim();
}
const digest = (db: string) =>
  psql(db, "select count(*) || ':' || md5(string_agg(id || '/' || label, ',' order by id)) from orders");
const bash = (script: string) =>
  execFileSync("bash", ["-euo", "pipefail", "-c", script], {
    cwd: work,
    env: { ...process.env, ...pgEnv(), MASTER_KEYS: process.env.MASTER_KEYS! },
    timeout: 120_000,
  }).toString();

async function team() {
  const user = await signedUpUser("Dr");
  const t = await user.team("admin");
  const { id: serverId } = await createServer(t, { kind: "local", name: "db1", workDir: "/var/tmp" });
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "postgres",
    name: "shop",
    pgHost: "127.0.0.1",
    pgPort: pg.port,
    pgDatabase: "shop",
    pgUser: "postgres",
    pgSslmode: "disable",
  });
  const prefix = `dr-${randomBytes(3).toString("hex")}`;
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix });
  const backUp = async () => {
    const { id } = await requestBackup(t, {
      serverId,
      sourceIds: [sourceId],
      destinationIds: [destinationId],
      encrypted: true,
    });
    engine.send([backupEvent({ teamId: t.id, serverId, backupId: id })]);
    await engine.idle();
    const b = await getBackup(t, id);
    expect(b.status).toBe("succeeded");
    return b;
  };
  const restore = async (input: Parameters<typeof requestDatabaseRestore>[1]) => {
    const { id } = await requestDatabaseRestore(t, input);
    engine.send([restoreEvent({ teamId: t.id, serverId: input.serverId, restoreId: id, kind: "database" })]);
    await engine.idle();
    return getRestore(t, id);
  };
  return { t, serverId, sourceId, prefix, backUp, restore };
}

describe("disaster recovery, as the README says", () => {
  it("Coffer's own database is lost: the stored object, the master keys and psql bring the database back", async () => {
    const s = await team();
    const b = await s.backUp();
    // "download it with the provider's own tools": here the local-disk destination's file.
    copyFileSync(
      path.join(env().DATA_DIR, "storage", s.t.id, s.prefix, b.locations[0]!.objectKey),
      path.join(work, "backup.tar.gz.enc"),
    );
    const out = bash(block("offline"));
    expect(out).toMatch(new RegExp(`backup id:\\s+${b.id}`));
    expect(out.trim().split("\n").at(-1)).toBe("1234");
    expect(digest("shop_restored")).toBe(digest("shop"));
    const manifest = JSON.parse(readFileSync(path.join(work, "restore", "manifest.json"), "utf8"));
    expect(manifest.postgres[0].tables).toEqual([{ schema: "public", table: "orders", rows: 1234 }]);
  });

  it("a server is lost: its backup restores into a new database on the replacement server", async () => {
    const s = await team();
    const b = await s.backUp();
    const { id: newServer } = await createServer(s.t, {
      kind: "ssh",
      name: "db2",
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      authMethod: "key",
      privateKey: sshd.privateKey,
      workDir: "/var/tmp",
    });
    const { id: connection } = await createSource(s.t, {
      serverId: newServer,
      kind: "postgres",
      name: "new pg",
      pgHost: "127.0.0.1",
      pgPort: pg.port,
      pgDatabase: "postgres",
      pgUser: "postgres",
      pgSslmode: "disable",
    });
    const r = await s.restore({
      backupId: b.id,
      member: "postgres/shop.sql",
      serverId: newServer,
      connectionSourceId: connection,
      targetDatabase: "shop_moved",
      mode: "new",
    });
    expect(r).toMatchObject({ status: "succeeded", serverName: "db2" });
    expect(digest("shop_moved")).toBe(digest("shop"));
  });

  it("data was corrupted: the newest backup started before it restores next to the live database, and the comparison lists the damage", async () => {
    const s = await team();
    const before = await s.backUp();
    const corruptedAt = new Date();
    psql("shop", "delete from orders where id % 10 = 0");
    const after = await s.backUp();
    // "pick the newest backup started before the corruption"
    const { rows } = await listBackups(s.t, { serverId: s.serverId });
    const pick = rows.find((r) => r.status === "succeeded" && r.startedAt! < corruptedAt)!;
    expect(pick.id).toBe(before.id);
    expect(pick.id).not.toBe(after.id);
    const r = await s.restore({
      backupId: pick.id,
      member: "postgres/shop.sql",
      serverId: s.serverId,
      connectionSourceId: s.sourceId,
      targetDatabase: "shop_before",
      mode: "new",
    });
    expect(r.status).toBe("succeeded");
    const out = bash(block("compare"));
    expect(out.trim()).toBe("123"); // ids 10, 20, … 1230
    expect(readFileSync(path.join(work, "changes.diff"), "utf8")).toContain("< 10|order 10");
  });
});

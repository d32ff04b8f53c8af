import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreEvent } from "@/inngest/events";
import { inProcessEngine, type InProcessEngine } from "@/inngest/in-process";
import { listBackups } from "@/lib/backups/queries";
import { createDestination } from "@/lib/destinations/mutations";
import { env } from "@/lib/env";
import { parseManifest } from "@/lib/backups/manifest";
import { createServer } from "@/lib/servers/mutations";
import { createSourceSchema } from "@/lib/servers/schemas";
import { createSource } from "@/lib/servers/source-mutations";
import { signedUpUser } from "@/test/factories";
import { startPgCluster, type PgCluster } from "@/test/pg-cluster";
import { startSshd, type TestSshd } from "@/test/servers/sshd";
import { requestDatabaseRestore } from "./mutations";
import { getRestore } from "./queries";
import { backUpNow } from "@/test/backups";

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
/** A brand-new PostgreSQL with none of the roles of `pg`, as on a replacement host. */
let fresh: PgCluster;
let sshd: TestSshd;
let engine: InProcessEngine;
let work: string;

beforeAll(async () => {
  [pg, fresh, sshd] = await Promise.all([startPgCluster(), startPgCluster(), startSshd()]);
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  // Inside the checkout, as the README says: `npx coffer` is the package's own bin.
  mkdirSync(path.join(root, ".data"), { recursive: true });
  work = mkdtempSync(path.join(root, ".data", "dr-"));
  // The database and its table belong to an application role, as in production.
  psql("postgres", "create role shop nologin");
  psql("postgres", "create database shop owner shop");
  psql(
    "shop",
    "create table orders (id int primary key, label text); insert into orders select g, 'order ' || g from generate_series(1, 1234) g; alter table orders owner to shop;",
  );
}, 60_000);
afterAll(async () => {
  await engine?.stop();
  rmSync(work, { recursive: true, force: true });
  await Promise.all([pg?.stop(), fresh?.stop(), sshd?.stop()]);
});

const pgEnv = (on = pg) => ({ PGHOST: "127.0.0.1", PGPORT: String(on.port), PGUSER: "postgres" });
function psql(db: string, sql: string, on = pg) {
  return execFileSync("psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql], {
    env: { ...process.env, ...pgEnv(on) },
  })
    .toString()
    .trim();
}
const digest = (db: string, on = pg) =>
  psql(db, "select count(*) || ':' || md5(string_agg(id || '/' || label, ',' order by id)) from orders", on);
const owners = (db: string, on: PgCluster) =>
  psql(
    db,
    "select d.datdba::regrole || ' ' || t.tableowner from pg_database d, pg_tables t where d.datname = current_database() and t.tablename = 'orders'",
    on,
  );
const bash = (script: string, o: { cwd?: string; on?: PgCluster } = {}) =>
  execFileSync("bash", ["-euo", "pipefail", "-c", script], {
    cwd: o.cwd ?? work,
    env: { ...process.env, ...pgEnv(o.on), MASTER_KEYS: process.env.MASTER_KEYS! },
    timeout: 120_000,
  }).toString();

/** `whole`: the source is every database of `pg` with its roles, not the one database shop. */
async function team(o: { whole?: boolean } = {}) {
  const user = await signedUpUser("Dr");
  const t = await user.team("admin");
  const { id: serverId } = await createServer(t, { kind: "local", name: "db1", workDir: "/var/tmp" });
  const connection = { serverId, pgHost: "127.0.0.1", pgPort: pg.port, pgUser: "postgres", pgSslmode: "disable" };
  const { id: sourceId } = await createSource(
    t,
    createSourceSchema.parse(
      o.whole
        ? { ...connection, kind: "postgres_cluster", name: "everything" }
        : { ...connection, kind: "postgres", name: "shop", pgDatabase: "shop" },
    ),
  );
  const prefix = `dr-${randomBytes(3).toString("hex")}`;
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix });
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
    // A backup of one database records no owner: the new database is the restoring user's.
    expect(owners("shop_restored", pg)).toBe("postgres shop");
  });

  it("a whole PostgreSQL is lost: its backup restores offline onto a new PostgreSQL with none of its roles", async () => {
    const s = await team({ whole: true });
    // Object names carry the time in UTC, whatever the Coffer host's time zone.
    const zone = process.env.TZ;
    process.env.TZ = "Pacific/Kiritimati"; // UTC+14
    const b = await s.backUp().finally(() => {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    });
    const objectKey = b.locations[0]!.objectKey;
    const stamp = /-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})-[^/]+$/.exec(objectKey)!.slice(1).map(Number);
    const named = Date.UTC(stamp[0]!, stamp[1]! - 1, stamp[2], stamp[3], stamp[4], stamp[5]);
    expect(Math.abs(named - b.createdAt.getTime())).toBeLessThan(60_000);

    const manifest = parseManifest(b.manifest);
    expect(manifest.entries.map((e) => e.path)).toContain("postgres/globals.sql");
    expect(manifest.postgres.find((p) => p.path === "postgres/shop.sql")?.owner).toBe("shop");
    expect(psql("postgres", "select count(*) from pg_roles where rolname = 'shop'", fresh)).toBe("0");

    const dir = path.join(work, "whole");
    mkdirSync(dir);
    copyFileSync(
      path.join(env().DATA_DIR, "storage", s.t.id, s.prefix, objectKey),
      path.join(dir, "backup.tar.gz.enc"),
    );
    const out = bash(block("offline"), { cwd: dir, on: fresh });
    expect(out.trim().split("\n").at(-1)).toBe("1234");
    expect(digest("shop_restored", fresh)).toBe(digest("shop"));
    // The database and its table belong to the role again, as on the lost PostgreSQL.
    expect(owners("shop_restored", fresh)).toBe("shop shop");
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

import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreEvent } from "@/inngest/events";
import { inProcessEngine, type InProcessEngine } from "@/inngest/in-process";
import { parseManifest } from "@/lib/backups/manifest";
import { getBackup } from "@/lib/backups/queries";
import { createDestination } from "@/lib/destinations/mutations";
import { readJobLog } from "@/lib/jobs/log";
import { createServer } from "@/lib/servers/mutations";
import { testSource } from "@/lib/servers/checks";
import { createSourceSchema } from "@/lib/servers/schemas";
import { createSource } from "@/lib/servers/source-mutations";
import type { TeamContext } from "@/lib/teams/context";
import { signedUpUser } from "@/test/factories";
import { startPgCluster, type PgCluster } from "@/test/pg-cluster";
import { requestDatabaseRestore } from "./mutations";
import { getRestore } from "./queries";
import { backUpNow } from "@/test/backups";

// The runbook's complete loss of a database cluster: every database of one PostgreSQL and its
// roles are backed up, and restored onto a brand-new PostgreSQL with the roles created first.

let old: PgCluster;
let fresh: PgCluster;
let engine: InProcessEngine;

beforeAll(async () => {
  [old, fresh] = await Promise.all([startPgCluster(), startPgCluster()]);
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  psql(old, "postgres", "create role app_owner nologin; create role reporter login password 'Secret-1'");
  for (const [db, rows] of [
    ["shop", 1200],
    ["crm", 340],
    ["blog", 25],
  ] as const) {
    psql(old, "postgres", `create database ${db}${db === "crm" ? " owner app_owner" : ""}`);
    psql(
      old,
      db,
      `create table items (id int primary key, label text);
       insert into items select g, 'item ' || g from generate_series(1, ${rows}) g;
       alter table items owner to app_owner;
       create table notes (id int); insert into notes values (1), (2);
       grant select on items to reporter;`,
    );
  }
}, 60_000);
afterAll(async () => {
  await engine?.stop();
  await Promise.all([old?.stop(), fresh?.stop()]);
});

function psql(pg: PgCluster, db: string, sql: string) {
  return execFileSync("psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql], {
    env: { ...process.env, PGHOST: "127.0.0.1", PGPORT: String(pg.port), PGUSER: "postgres" },
  })
    .toString()
    .trim();
}
/** Each table's owner and row count, and who may read it: what a restore must bring back. */
const describeDb = (pg: PgCluster, db: string) =>
  psql(
    pg,
    db,
    `select string_agg(format('%s owner=%s rows=%s readers=%s', t.tablename, t.tableowner,
       (xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I', t.tablename), false, true, '')))[1]::text,
       coalesce((select string_agg(grantee, ',' order by grantee) from information_schema.role_table_grants g
         where g.table_name = t.tablename and g.privilege_type = 'SELECT' and g.grantee <> t.tableowner), '-')), '; ' order by t.tablename)
     from pg_tables t where schemaname = 'public'`,
  );

async function setUp(clusterSource: { excludes?: string; pgRolePasswords?: boolean; pgUser?: string } = {}) {
  const user = await signedUpUser("Cluster");
  const t = await user.team("admin");
  const { id: serverId } = await createServer(t, { kind: "local", name: "db1", workDir: "/var/tmp" });
  // Parsed as the form's action parses it: the maintenance database defaults to postgres.
  const connection = (pg: PgCluster, name: string, more: object = {}) =>
    createSource(
      t,
      createSourceSchema.parse({
        serverId,
        kind: "postgres_cluster",
        name,
        pgHost: "127.0.0.1",
        pgPort: pg.port,
        pgUser: "postgres",
        pgSslmode: "disable",
        ...more,
      }),
    );
  const { id: sourceId } = await connection(old, "everything", clusterSource);
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix: "cluster" });
  const backUp = async () => {
    const { id } = await backUpNow(engine, t, {
      serverId,
      sourceIds: [sourceId],
      destinationIds: [destinationId],
      encrypted: true,
    });
    return { backup: await getBackup(t, id), log: await logOf(t, "backup", id) };
  };
  return { t, serverId, sourceId, connection, backUp };
}

const logOf = async (t: TeamContext, kind: "backup" | "restore", id: string) =>
  (await readJobLog(t, kind, id)).map((l) => l.message).join("\n");

describe("a whole PostgreSQL cluster", () => {
  it("backs up every database and the roles, picks up a new database, and restores onto a brand-new cluster with the roles first", async () => {
    const s = await setUp();
    const first = await s.backUp();
    expect(first.backup.status).toBe("succeeded");
    expect(parseManifest(first.backup.manifest).postgres.map((p) => p.database)).toEqual([
      "blog",
      "crm",
      "postgres",
      "shop",
    ]);

    psql(old, "postgres", "create database wiki");
    psql(
      old,
      "wiki",
      "create table pages (id int); insert into pages select generate_series(1, 77); alter table pages owner to app_owner;",
    );
    const second = await s.backUp();
    expect(second.backup.status).toBe("succeeded");
    const manifest = parseManifest(second.backup.manifest);
    const cluster = manifest.sources[0]!;
    expect(cluster).toMatchObject({
      kind: "postgres_cluster",
      databases: ["blog", "crm", "postgres", "shop", "wiki"],
      globals: { path: "postgres/globals.sql", rolePasswords: false },
    });
    expect(manifest.postgres.find((p) => p.database === "wiki")).toMatchObject({
      path: "postgres/wiki.sql",
      tables: [{ schema: "public", table: "pages", rows: 77 }],
    });
    expect(manifest.entries.map((e) => e.path)).toContain("postgres/globals.sql");
    expect(second.log).toContain("5 database(s) to back up (blog, crm, postgres, shop, wiki)");

    // The brand-new cluster has none of the roles; the first restore creates them.
    expect(psql(fresh, "postgres", "select count(*) from pg_roles where rolname in ('app_owner', 'reporter')")).toBe(
      "0",
    );
    const { id: target } = await s.connection(fresh, "new pg");
    const restore = async (db: string, withGlobals: boolean) => {
      const { id } = await requestDatabaseRestore(s.t, {
        backupId: second.backup.id,
        member: `postgres/${db}.sql`,
        serverId: s.serverId,
        connectionSourceId: target,
        targetDatabase: db,
        mode: "new",
        withGlobals,
      });
      engine.send([restoreEvent({ teamId: s.t.id, serverId: s.serverId, restoreId: id, kind: "database" })]);
      await engine.idle();
      return { restore: await getRestore(s.t, id), log: await logOf(s.t, "restore", id) };
    };
    const shop = await restore("shop", true);
    expect(shop.restore.status).toBe("succeeded");
    // Only the connecting role was there already.
    expect(shop.log).toContain(
      "Roles already on db1, kept (their attributes and memberships set as in the backup): postgres.",
    );
    expect(shop.log).toContain("The backup holds no password hashes");
    // Asking again is harmless: the roles the first restore made are kept, and named.
    const crm = await restore("crm", true);
    expect(crm.restore.status).toBe("succeeded");
    expect(crm.log).toMatch(/kept .*: app_owner, postgres, reporter\./);
    for (const db of ["blog", "wiki"]) expect((await restore(db, true)).restore.status).toBe("succeeded");

    for (const db of ["shop", "crm", "blog", "wiki"]) expect(describeDb(fresh, db)).toBe(describeDb(old, db));
    const owners = `select string_agg(datname || '=' || pg_get_userbyid(datdba), ' ' order by datname) from pg_database
      where datname in ('shop', 'crm', 'blog', 'wiki')`;
    expect(psql(fresh, "postgres", owners)).toBe("blog=postgres crm=app_owner shop=postgres wiki=postgres");
    expect(psql(fresh, "postgres", owners)).toBe(psql(old, "postgres", owners));
    expect(describeDb(fresh, "shop")).toBe(
      "items owner=app_owner rows=1200 readers=reporter; notes owner=postgres rows=2 readers=-",
    );
    expect(
      psql(
        fresh,
        "postgres",
        "select rolname, rolcanlogin, rolpassword is null from pg_authid where rolname in ('app_owner', 'reporter') order by 1",
      ),
    ).toBe("app_owner|f|t\nreporter|t|t");
  }, 240_000);

  it("leaves out excluded databases, lists exclusions that are not on the cluster, and includes password hashes only when asked", async () => {
    psql(old, "postgres", "create database coffer_verify_leftover");
    const s = await setUp({ excludes: "crm\nno_such_db", pgRolePasswords: true });
    const check = await testSource(s.t, s.sourceId);
    expect(check.ok).toBe(true);
    expect(check.facts).toMatchObject({ "excluded but not on this PostgreSQL": "no_such_db" });
    expect(check.facts.databases).not.toMatch(/crm|coffer_verify/);
    // Free space is weighed against every database dumped (blog, postgres, shop), not the maintenance one alone.
    const mib = (fact: string | undefined) => Number(/^([\d.]+) MiB$/.exec(fact ?? "")?.[1]);
    expect(mib(check.facts["databases' size"])).toBeGreaterThan(2.5 * mib(check.facts["database size"]));
    const { backup, log } = await s.backUp();
    expect(backup.status).toBe("succeeded");
    const manifest = parseManifest(backup.manifest);
    const names = manifest.postgres.map((p) => p.database);
    expect(names).toEqual(expect.arrayContaining(["blog", "postgres", "shop"]));
    expect(names).not.toContain("crm");
    expect(names).not.toContain("coffer_verify_leftover");
    expect(manifest.sources[0]).toMatchObject({ excludes: ["crm", "no_such_db"], globals: { rolePasswords: true } });
    expect(log).toContain("excluded: crm, no_such_db; excluded but not on this PostgreSQL: no_such_db.");
    // The hashes travel: restoring with the roles sets reporter's on the new cluster to the old one's.
    const { id: target } = await s.connection(fresh, "new pg");
    const { id } = await requestDatabaseRestore(s.t, {
      backupId: backup.id,
      member: "postgres/blog.sql",
      serverId: s.serverId,
      connectionSourceId: target,
      targetDatabase: "blog_with_passwords",
      mode: "new",
      withGlobals: true,
    });
    engine.send([restoreEvent({ teamId: s.t.id, serverId: s.serverId, restoreId: id, kind: "database" })]);
    await engine.idle();
    expect((await getRestore(s.t, id)).status).toBe("succeeded");
    const hash = "select rolpassword from pg_authid where rolname = 'reporter'";
    expect(psql(fresh, "postgres", hash)).toMatch(/^SCRAM-SHA-256\$/);
    expect(psql(fresh, "postgres", hash)).toBe(psql(old, "postgres", hash));
  }, 120_000);

  it("says which privilege is missing when the user may not read the password hashes it is asked to include", async () => {
    psql(old, "postgres", "create role backup_op login");
    const s = await setUp({ pgRolePasswords: true, pgUser: "backup_op" });
    const check = await testSource(s.t, s.sourceId);
    expect(check).toMatchObject({
      ok: false,
      message: expect.stringContaining("GRANT SELECT ON pg_catalog.pg_authid TO backup_op"),
    });
    const { backup } = await s.backUp();
    expect(backup.status).toBe("failed");
    expect(backup.error).toContain("needs SELECT on pg_catalog.pg_authid: backup_op does not have it");
  }, 120_000);
});

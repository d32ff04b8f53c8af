import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { eq, sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { servers, sources } from "@/db/schema";
import { startPgCluster, type PgCluster } from "@/test/pg-cluster";
import { insertBackupRow, insertLocationRow, setLocationRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { pathWithout } from "@/test/hidden-tools";
import { startSshd, type TestSshd } from "@/test/servers/sshd";
import { listAuditEvents } from "../audit/queries";
import { db } from "../db";
import { createDestination } from "../destinations/mutations";
import { AppError } from "../errors";
import { acceptInvitation, createInvitation } from "../teams/invitations";
import { teamForUser } from "../teams/context";
import { testServer, testSource } from "./checks";
import { acceptHostKey, createServer, deleteServer, updateServer } from "./mutations";
import { createSource, updateSource } from "./source-mutations";
import { getServer, getSource, listServers } from "./queries";
import { updateServerSchema } from "./schemas";

let sshd: TestSshd;
let pg: PgCluster;
const code = (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (e: unknown) => (e instanceof AppError ? e.code : `unexpected: ${String(e)}`),
  );

beforeAll(async () => {
  [sshd, pg] = await Promise.all([startSshd(), startPgCluster()]);
  const admin = postgres(pg.url("postgres"), { max: 1, onnotice: () => {} });
  await admin`create database shop`;
  await admin.end();
  const shop = postgres(pg.url("shop"), { max: 1, onnotice: () => {} });
  await shop`create table orders (id int primary key, total numeric)`;
  await shop`insert into orders select g, g * 1.5 from generate_series(1, 100) g`;
  await shop.end();
});
afterAll(async () => {
  await Promise.all([sshd?.stop(), pg?.stop()]);
});

const sshServer = (over: Record<string, unknown> = {}) => ({
  kind: "ssh" as const,
  name: `db-${Math.random().toString(36).slice(2, 8)}`,
  host: sshd.host,
  port: sshd.port,
  username: sshd.username,
  authMethod: "key" as const,
  privateKey: sshd.privateKey,
  workDir: "/tmp",
  ...over,
});

describe("servers over SSH", () => {
  it("connects with a key, pins the host key, and never returns the secret", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("member");
    const { id } = await createServer(t, sshServer());
    const result = await testServer(t, id);
    expect(result).toMatchObject({ ok: true, facts: { user: "root" } });
    expect(result.message).toMatch(/^Connected as root .* free in \/tmp\. Compression: igzip \(fastest\)\.$/);
    expect(result.facts.compression).toBe("igzip (fastest)");
    const view = await getServer(t, id);
    expect(view).toMatchObject({
      hostKey: sshd.hostKeyFingerprint,
      checkOk: true,
      hasPrivateKey: true,
      hasPassword: false,
    });
    expect(JSON.stringify(await listServers(t))).not.toContain("PRIVATE KEY");
    // Stored sealed, bound to this row.
    const [raw] = await (await db()).select({ key: servers.privateKeyEnc }).from(servers).where(eq(servers.id, id));
    expect(raw!.key).toMatch(/^v1:test-1:/);
    expect(raw!.key).not.toContain("OPENSSH");
  });

  it("refuses a changed host key until an admin accepts the new fingerprint", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("owner");
    const { id } = await createServer(t, sshServer());
    expect((await testServer(t, id)).ok).toBe(true);
    const pinned = sshd.hostKeyFingerprint;
    const rotated = await sshd.rotateHostKey();

    const refused = await testServer(t, id);
    expect(refused.ok).toBe(false);
    expect(refused.message).toContain(`The host key of 127.0.0.1:${sshd.port} changed`);
    expect(refused.message).toContain(rotated);
    expect(await getServer(t, id)).toMatchObject({ hostKey: pinned, offeredHostKey: rotated });

    // A member may test but not accept; a stale fingerprint is not accepted either.
    const b = await signedUpUser("Bob");
    const inv = await createInvitation(t, { email: b.email, role: "member" });
    await acceptInvitation(b.actor, b.email, inv.link.split("/invite/")[1]!);
    expect(await code(acceptHostKey(await teamForUser(b.actor, a.teamSlug), id, rotated))).toBe("FORBIDDEN");
    expect(await code(acceptHostKey(t, id, pinned))).toBe("NOT_FOUND");

    await acceptHostKey(t, id, rotated);
    expect((await testServer(t, id)).ok).toBe(true);
    expect(await getServer(t, id)).toMatchObject({ hostKey: rotated, offeredHostKey: null });
    const { events } = await listAuditEvents(t, { action: "server.host_key_accepted" });
    expect(events[0]?.details).toEqual({ fingerprint: rotated });
  });

  it("password logins work; a wrong password says so without echoing it", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("member");
    const ok = await createServer(
      t,
      sshServer({
        username: sshd.passwordUser,
        authMethod: "password",
        privateKey: undefined,
        password: sshd.password,
      }),
    );
    expect((await testServer(t, ok.id)).ok).toBe(true);
    const bad = await createServer(
      t,
      sshServer({
        username: sshd.passwordUser,
        authMethod: "password",
        privateKey: undefined,
        password: "not-the-password-123",
      }),
    );
    const result = await testServer(t, bad.id);
    expect(result.ok).toBe(false);
    expect(result.message.toLowerCase()).toContain("authentication failed");
    expect(result.message).not.toContain("not-the-password-123");
  });

  it("is not deleted while objects of its ended backups are still to be deleted from storage", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    const { id: serverId } = await createServer(t, sshServer());
    const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix: "p" });
    const base = {
      teamId: t.id,
      serverId,
      trigger: "manual" as const,
      encrypted: true,
      destinationIds: [destinationId],
    };
    // An expired backup whose copy retention could not delete yet, and a failed run whose leftovers the sweeper retries.
    const expired = await insertBackupRow({ ...base, status: "expired", fileName: "a.tar.gz" });
    await insertLocationRow({ teamId: t.id, backupId: expired, destinationId, objectKey: "a", status: "stored" });
    const failed = await insertBackupRow({
      ...base,
      status: "failed",
      fileName: "b.tar.gz",
      leftoversPendingAt: new Date(),
    });
    await insertLocationRow({ teamId: t.id, backupId: failed, destinationId, objectKey: "b", status: "failed" });
    // A run whose only leftover is its work folder on this very server does not hold the server.
    await insertBackupRow({ ...base, status: "failed", fileName: "c.tar.gz", leftoversPendingAt: new Date() });
    await expect(deleteServer(t, serverId)).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(
        /^2 ended backups of this server still have objects in storage that Coffer could not delete yet/,
      ),
    });
    await setLocationRow(expired, destinationId, { status: "deleted" });
    await expect(deleteServer(t, serverId)).rejects.toThrow(/^1 ended backup of this server still has objects/);
    await setLocationRow(failed, destinationId, { status: "deleted" });
    await deleteServer(t, serverId);
    expect(await code(getServer(t, serverId))).toBe("NOT_FOUND");
  });

  it("moving a server whose host key is not pinned: admins only, and with its password again", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    const member = { ...t, role: "member" as const };
    // Made through the API and never tested: no host key pinned, so any sshd at a new address would be trusted.
    const input = sshServer({
      username: sshd.passwordUser,
      authMethod: "password",
      privateKey: undefined,
      password: sshd.password,
    });
    const { id } = await createServer(t, input);
    expect((await getServer(t, id)).hostKey).toBeNull();
    const edit = { ...input, serverId: id, password: undefined };
    // A member could point it at their own sshd and collect what Coffer sends there.
    await expect(updateServer(member, { ...edit, host: "localhost", password: sshd.password })).rejects.toMatchObject({
      code: "FORBIDDEN",
      message: expect.stringMatching(/host key is not pinned yet, so only an admin can change its host or port/),
    });
    await updateServer(member, { ...edit, name: "renamed by a member" }); // same address: fine
    await expect(updateServer(t, { ...edit, host: "localhost" })).rejects.toMatchObject({
      code: "VALIDATION",
      message: expect.stringMatching(/enter the password again/),
      fieldErrors: { password: ["Enter the password again."] },
    });
    await expect(updateServer(t, { ...edit, port: sshd.port + 1 })).rejects.toMatchObject({ code: "VALIDATION" });
    expect(await getServer(t, id)).toMatchObject({ host: "127.0.0.1", port: sshd.port });
    await updateServer(t, { ...edit, name: "renamed" }); // same address: the password stays
    await updateServer(t, { ...edit, host: "localhost", password: sshd.password });
    expect(await getServer(t, id)).toMatchObject({ name: input.name, host: "localhost" });
    expect((await testServer(t, id)).ok).toBe(true);
  });

  it("an edit that leaves secrets empty keeps them; a new address keeps the pin, so a new machine needs an admin", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("member");
    const input = sshServer();
    const { id } = await createServer(t, input);
    await testServer(t, id);
    await updateServer(t, { ...input, serverId: id, name: "renamed", privateKey: undefined });
    expect((await testServer(t, id)).ok).toBe(true);
    expect((await getServer(t, id)).name).toBe("renamed");
    // As the form submits it: the schema normalises the host name.
    await updateServer(
      t,
      updateServerSchema.parse({ ...input, serverId: id, name: "renamed", host: "LOCALHOST.", privateKey: "" }),
    );
    expect(await getServer(t, id)).toMatchObject({ host: "localhost", hostKey: sshd.hostKeyFingerprint });
    expect((await testServer(t, id)).ok).toBe(true); // the same machine under another name
    const moved = await listAuditEvents(t, { action: "server.updated" });
    expect(moved.events[0]?.details).toMatchObject({
      address: { from: `127.0.0.1:${sshd.port}`, to: `localhost:${sshd.port}` },
    });
    const { events } = await listAuditEvents(t, { action: "server." });
    expect(JSON.stringify(events)).not.toContain("PRIVATE KEY");
  });
});

describe("sources", () => {
  it("checks a PostgreSQL database from the server: reachable, readable, enough room", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("member");
    const { id: serverId } = await createServer(t, sshServer());
    const base = {
      serverId,
      kind: "postgres" as const,
      pgHost: "127.0.0.1",
      pgPort: pg.port,
      pgUser: "postgres",
      pgSslmode: "disable" as const,
      pgPassword: "unused-with-trust",
    };
    const good = await createSource(t, { ...base, name: "shop", pgDatabase: "shop" });
    const result = await testSource(t, good.id);
    expect(result.message).toMatch(
      /^Readable: shop \(\d+\.\d MiB\) on PostgreSQL 1\d, pg_dump 1\d; .* free in \/tmp\.$/,
    );
    expect(result.ok).toBe(true);
    // pg_dump 15 (Debian 12) ignores require_auth: the check says so instead of promising it.
    expect(result.facts["SCRAM required"]).toMatch(/^(yes|asked, but not enforced by pg_dump 1[0-5] )/);
    expect((await getSource(t, good.id)).checkOk).toBe(true);
    // The servers list (and the Overview's total) count the server's sources.
    const other = await createServer(t, sshServer());
    expect((await listServers(t)).map((s) => [s.id, s.sourceCount])).toEqual(
      expect.arrayContaining([
        [serverId, 1],
        [other.id, 0],
      ]),
    );

    const missing = await createSource(t, { ...base, name: "nope", pgDatabase: "nope" });
    expect((await testSource(t, missing.id)).message).toBe(`Database nope does not exist on 127.0.0.1:${pg.port}.`);
    const noRole = await createSource(t, { ...base, name: "ghost", pgDatabase: "shop", pgUser: "ghost" });
    expect((await testSource(t, noRole.id)).message).toBe(`User ghost does not exist on 127.0.0.1:${pg.port}.`);
    const closed = await createSource(t, { ...base, name: "closed", pgDatabase: "shop", pgPort: 1 });
    expect((await testSource(t, closed.id)).message).toBe(
      "Nothing answers as PostgreSQL at 127.0.0.1:1 from the server: check the host, port and that PostgreSQL is running.",
    );
  });

  it("moving where a source sends its stored password needs the password again", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("member");
    const { id: serverId } = await createServer(t, sshServer());
    const base = {
      kind: "postgres" as const,
      name: "shop",
      pgHost: "127.0.0.1",
      pgPort: pg.port,
      pgDatabase: "shop",
      pgUser: "postgres",
      pgSslmode: "disable" as const,
    };
    const { id: sourceId } = await createSource(t, { serverId, ...base, pgPassword: "s3cret-pg" });
    expect((await getSource(t, sourceId)).pgRequireScram).toBe(true);
    await updateSource(t, { sourceId, ...base, name: "shop db" }); // same place: the password stays
    for (const change of [
      { pgHost: "collector.example.test" },
      { pgPort: 6543 },
      { pgSslmode: "require" as const },
      { pgRequireScram: false },
    ]) {
      await expect(updateSource(t, { sourceId, ...base, ...change }), JSON.stringify(change)).rejects.toMatchObject({
        code: "VALIDATION",
        message:
          "Changing the host, port, SSL mode or SCRAM requirement sends the stored password somewhere new: enter the password again.",
        fieldErrors: { pgPassword: ["Enter the password again."] },
      });
    }
    const kept = await getSource(t, sourceId);
    expect(kept).toMatchObject({ name: "shop db", pgHost: "127.0.0.1", pgPort: pg.port, hasPgPassword: true });
    await updateSource(t, { sourceId, ...base, pgHost: "localhost", pgRequireScram: false, pgPassword: "new-pg" });
    expect(await getSource(t, sourceId)).toMatchObject({ pgHost: "localhost", pgRequireScram: false });
    // Without a stored password there is nothing to send: moving is free.
    const { id: open } = await createSource(t, { serverId, ...base, name: "peer" });
    await updateSource(t, { sourceId: open, ...base, name: "peer", pgHost: "localhost" });
  });

  it("checks directories, and hostile paths are arguments, never commands", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("member");
    const { id: serverId } = await createServer(t, { kind: "local", name: "here", workDir: "/tmp" });
    const dir = mkdtempSync(path.join(tmpdir(), "coffer-src-"));
    const canary = path.join(dir, "pwned");
    const ok = await createSource(t, {
      serverId,
      kind: "directory",
      name: "etc",
      paths: [dir, "/etc"],
      excludes: ["*.log"],
    });
    expect(await testSource(t, ok.id)).toMatchObject({
      ok: true,
      message: "All 2 paths exist and are readable on local.",
    });
    const link = path.join(dir, "link");
    symlinkSync(dir, link);
    const hostile = [
      `/nonexistent; touch ${canary}`,
      `/$(touch ${canary})`,
      `/\`touch ${canary}\``,
      "/etc/hostname",
      link,
    ];
    const bad = await createSource(t, { serverId, kind: "directory", name: "bad", paths: hostile, excludes: [] });
    const result = await testSource(t, bad.id);
    expect(result.ok).toBe(false);
    expect(result.message).toBe(
      `On local: ${hostile[0]} does not exist; ${hostile[1]} does not exist; ${hostile[2]} does not exist; /etc/hostname is not a directory; ${link} is a symbolic link, so a backup would hold the link and none of the folder it points to (give the folder's own path).`,
    );
    expect(existsSync(canary)).toBe(false);
  });

  it("says which gzip backups use, and how to install igzip when only gzip is there", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("member");
    const { id } = await createServer(t, { kind: "local", name: "here", workDir: "/tmp" });
    // The local server runs its commands with Coffer's own PATH: hide tools from it.
    const testWithout = async (hidden: string[]) => {
      const dir = pathWithout(hidden);
      const saved = process.env.PATH;
      process.env.PATH = dir;
      try {
        const result = await testServer(t, id);
        return { ...result, page: (await getServer(t, id)).checkMessage };
      } finally {
        process.env.PATH = saved;
        rmSync(dir, { recursive: true });
      }
    };
    const pigz = await testWithout(["igzip"]);
    expect(pigz).toMatchObject({ ok: true, facts: { compression: "pigz (fast, on every core)" } });
    expect(pigz.facts.tools).not.toContain("igzip");
    expect(pigz.page).toMatch(/\. Compression: pigz \(fast, on every core\)\.$/);

    const gzip = await testWithout(["igzip", "pigz"]);
    expect(gzip).toMatchObject({ ok: true, facts: { compression: "gzip (slowest)" } });
    expect(gzip.page).toMatch(
      /Compression: gzip \(slowest\)\. .* install it with apt-get install isal, or install pigz\.$/,
    );

    // No package manager Coffer knows: the Debian/Ubuntu command, saying so.
    const unknown = await testWithout(["igzip", "pigz", "apt-get"]);
    expect(unknown.page).toContain("install it with apt-get install isal (on Debian/Ubuntu), or install pigz.");

    const all = await testWithout([]);
    expect(all.page).toMatch(/Compression: igzip \(fastest\)\.$/);
  });

  it("refuses connection strings where a database name belongs", async () => {
    const { createSourceSchema } = await import("./schemas");
    const parsed = createSourceSchema.safeParse({
      serverId: "srv_00000000000000000000000000",
      kind: "postgres",
      name: "x",
      pgDatabase: "host=169.254.169.254 dbname=x",
      pgUser: "u",
    });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain("not a connection string");
  });
});

describe("tenancy", () => {
  it("another team's servers and sources are NOT_FOUND and stay untouched; viewers cannot change anything", async () => {
    const a = await signedUpUser("Alice");
    const ta = await a.team("owner");
    const { id: serverId } = await createServer(ta, sshServer({ name: "a-db" }));
    const { id: sourceId } = await createSource(ta, {
      serverId,
      kind: "directory",
      name: "etc",
      paths: ["/etc"],
      excludes: [],
    });

    const m = await signedUpUser("Mallory");
    const tm = await m.team("owner");
    expect(await code(getServer(tm, serverId))).toBe("NOT_FOUND");
    expect(await code(getSource(tm, sourceId))).toBe("NOT_FOUND");
    expect(await code(testServer(tm, serverId))).toBe("NOT_FOUND");
    expect(await code(testSource(tm, sourceId))).toBe("NOT_FOUND");
    expect(await code(updateServer(tm, { ...sshServer({ name: "stolen" }), serverId }))).toBe("NOT_FOUND");
    expect(await code(deleteServer(tm, serverId))).toBe("NOT_FOUND");
    expect(await code(createSource(tm, { serverId, kind: "directory", name: "x", paths: ["/"], excludes: [] }))).toBe(
      "NOT_FOUND",
    );
    expect(await code(updateSource(tm, { sourceId, kind: "directory", name: "x", paths: ["/"], excludes: [] }))).toBe(
      "NOT_FOUND",
    );
    expect((await getServer(ta, serverId)).name).toBe("a-db");
    expect((await getSource(ta, sourceId)).paths).toEqual(["/etc"]);

    // The database itself refuses a source of team M on team A's server.
    await expect(
      (await db()).insert(sources).values({ teamId: tm.id, serverId, kind: "directory", name: "sneaky", paths: ["/"] }),
    ).rejects.toThrow();

    const v = await signedUpUser("Vera");
    const inv = await createInvitation(ta, { email: v.email, role: "viewer" });
    await acceptInvitation(v.actor, v.email, inv.link.split("/invite/")[1]!);
    const tv = await teamForUser(v.actor, a.teamSlug);
    expect((await listServers(tv)).map((s) => s.name)).toEqual(["a-db"]);
    expect(await code(createServer(tv, sshServer()))).toBe("FORBIDDEN");
    expect(await code(testServer(tv, serverId))).toBe("FORBIDDEN");
    expect(await code(deleteServer(tv, serverId))).toBe("FORBIDDEN");
  });

  it("names are unique per team, with a clear message", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("member");
    await createServer(t, { kind: "local", name: "same", workDir: "/tmp" });
    await expect(createServer(t, { kind: "local", name: "same", workDir: "/tmp" })).rejects.toThrow(
      "A server with that name already exists",
    );
    const [{ n }] = (await (
      await db()
    )
      .select({ n: sql<number>`count(*)::int` })
      .from(servers)
      .where(eq(servers.teamId, t.id))) as [{ n: number }];
    expect(n).toBe(1);
  });
});

describe("the Coffer host as a server", () => {
  it("refuses paths that overlap Coffer's own data folder", async () => {
    const { env } = await import("../env");
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    const { id: serverId } = await createServer(t, { kind: "local", name: "here", workDir: "/tmp" });
    const data = path.resolve(env().DATA_DIR);
    for (const p of ["/", data, path.join(data, "storage"), path.dirname(data)]) {
      await expect(
        createSource(t, { serverId, kind: "directory", name: `x${p.length}`, paths: [p], excludes: [] }),
        p,
      ).rejects.toThrow("Coffer's data folder");
    }
    const { createDestination } = await import("../destinations/mutations");
    await expect(createDestination(t, { kind: "server", name: "sneaky", serverId, path: data })).rejects.toThrow(
      "Coffer's data folder",
    );
    expect(
      (await createSource(t, { serverId, kind: "directory", name: "etc", paths: ["/etc"], excludes: [] })).id,
    ).toMatch(/^src_/);
  });
});

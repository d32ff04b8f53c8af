import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { eq } from "drizzle-orm";
// Before Next.js's own modules: it sets up what they read on load.
import { inRequest, sessionCookie } from "@/test/request-context";
import { NodeNextRequest, NodeNextResponse } from "next/dist/server/base-http/node";
import { sendResponse } from "next/dist/server/send-response";
import { signalFromNodeResponse } from "next/dist/server/web/spec-extension/adapters/next-request";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backups } from "@/db/schema";
import { restoreEvent } from "@/inngest/events";
import { scheduleTick } from "@/inngest/functions/schedule-tick";
import { sweepRuns } from "@/inngest/functions/sweep-runs";
import { inProcessEngine, type InProcessEngine } from "@/inngest/in-process";
import { listAuditEvents } from "@/lib/audit/queries";
import { db } from "@/lib/db";
import { createDestination } from "@/lib/destinations/mutations";
import { env } from "@/lib/env";
import { asAppError } from "@/lib/errors";
import { addTeamKey } from "@/lib/openpgp/team-keys";
import { createApiToken } from "@/lib/api-tokens/tokens";
import { call, conforms } from "@/test/api-client";
import * as scheduleRoute from "@/app/api/v1/schedules/[scheduleId]/route";
import * as runRoute from "@/app/api/v1/schedules/[scheduleId]/run/route";
import * as objectRoute from "@/app/api/teams/[team]/backups/[backupId]/object/route";
import { requestDatabaseRestore, requestVerification } from "@/lib/restores/mutations";
import { getRestore } from "@/lib/restores/queries";
import { createSchedule } from "@/lib/schedules/mutations";
import { DEFAULT_POLICY } from "@/lib/retention/select";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { setBackupRow, setScheduleRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { gnupgHome, type GnupgHome } from "@/test/gnupg";
import { startPgCluster, type PgCluster } from "@/test/pg-cluster";
import { sendDeclaredContentLength } from "@/lib/web/content-length";
import { openDownload } from "./download";
import { openStoredObject } from "./stored-object";
import { getBackup, listBackups } from "./queries";
import { backUpNow } from "@/test/backups";

// OpenPGP backups (docs/OPENPGP.md) against Debian's GnuPG and a real PostgreSQL: what a team
// holding only its private key does, and what Coffer still does with the same objects.

let pg: PgCluster;
let engine: InProcessEngine;
let work: string;
let alice: GnupgHome; // the team's first key, made as the README says
let bob: GnupgHome; // a second key, added later

beforeAll(async () => {
  pg = await startPgCluster();
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  work = mkdtempSync(path.join(tmpdir(), "coffer-openpgp-"));
  alice = gnupgHome();
  bob = gnupgHome();
  psql("postgres", "create database shop");
  psql(
    "shop",
    "create table orders (id int primary key, label text); insert into orders select g, 'order ' || g || ' ' || md5(g::text) from generate_series(1, 5000) g;",
  );
}, 60_000);
afterAll(async () => {
  await engine?.stop();
  alice?.cleanup();
  bob?.cleanup();
  rmSync(work, { recursive: true, force: true });
  await pg?.stop();
});

const pgEnv = () => ({ ...process.env, PGHOST: "127.0.0.1", PGPORT: String(pg.port), PGUSER: "postgres" });
function psql(db: string, sql: string) {
  return execFileSync("psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql], { env: pgEnv() })
    .toString()
    .trim();
}
const digest = (db: string) =>
  psql(db, "select count(*) || ':' || md5(string_agg(id || '/' || label, ',' order by id)) from orders");
async function read(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function setup() {
  const t = await (await signedUpUser("Pgp")).team("admin");
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
  const prefix = `pgp-${randomBytes(3).toString("hex")}`;
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix });
  const objectPath = (key: string) => path.join(env().DATA_DIR, "storage", t.id, prefix, key);
  return { t, serverId, sourceId, destinationId, objectPath };
}

/** A daily schedule of the setup's source making OpenPGP backups. */
const nightlyOpenPgp = (s: Awaited<ReturnType<typeof setup>>) =>
  createSchedule(s.t, {
    name: "nightly",
    serverId: s.serverId,
    sourceIds: [s.sourceId],
    destinationIds: [s.destinationId],
    when: { kind: "daily", time: "02:00" },
    timezone: "UTC",
    encrypted: true,
    encryption: "openpgp",
    enabled: true,
    verify: false,
    retention: DEFAULT_POLICY,
  });

type Handler = (request: Request, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;

/**
 * An HTTP server answering with one route module as Next.js's server does: the export named after
 * the method (GET for a HEAD without one), a signal that aborts only if the client goes away before
 * the end, the Response written by Next's own sendResponse (which drops Content-Length and never
 * reads a HEAD's body), and the Content-Length lib/startup puts back.
 */
async function serveRoute(route: object, params: Record<string, string>) {
  sendDeclaredContentLength();
  const exports = route as Record<string, Handler | undefined>;
  const server = createHttpServer((req, res) => {
    const request = new Request(new URL(req.url!, env().APP_URL), {
      method: req.method,
      headers: req.headers as Record<string, string>,
      signal: signalFromNodeResponse(res),
    });
    const handler = exports[req.method!] ?? exports.GET!;
    void inRequest(() => handler(request, { params: Promise.resolve(params) }), {
      cookie: req.headers.cookie,
      path: req.url,
    }).then((response) => sendResponse(new NodeNextRequest(req), new NodeNextResponse(res), response));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Runs `sh` in a fresh folder and returns it. */
function shell(script: string, gpg: GnupgHome) {
  const dir = mkdtempSync(path.join(work, "out-"));
  execFileSync("bash", ["-euo", "pipefail", "-c", script], {
    cwd: dir,
    env: { ...pgEnv(), GNUPGHOME: gpg.home },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return dir;
}

describe("OpenPGP backups", () => {
  it("a scheduled backup decrypts with gpg alone and psql gives the rows; Coffer downloads, verifies, restores and decrypts it offline", async () => {
    const s = await setup();
    const aliceKey = alice.genKey("Shop Ops <ops@example.test>", "future-default");
    await addTeamKey(s.t, { key: alice.exportPublic(aliceKey) });
    const { id: scheduleId } = await nightlyOpenPgp(s);
    await setScheduleRow(scheduleId, { nextRunAt: new Date(Date.now() - 60_000) });
    engine.runCron(scheduleTick);
    await engine.idle();
    const [row] = (await listBackups(s.t, { scheduleId })).rows;
    if (row!.status === "queued") {
      await setBackupRow(row!.id, { createdAt: new Date(Date.now() - 10 * 60_000) });
      engine.runCron(sweepRuns);
      await engine.idle();
    }
    const b = await getBackup(s.t, row!.id);
    expect(b).toMatchObject({ status: "succeeded", trigger: "schedule", encrypted: true, encryption: "openpgp" });
    const key = b.locations[0]!.objectKey;
    expect(key).toMatch(/\.tar\.gz\.gpg$/);

    // The team, with Coffer gone: the stored object, gpg, tar and psql.
    const object = path.join(work, "shop.tar.gz.gpg");
    copyFileSync(s.objectPath(key), object);
    const dir = shell(`gpg --batch --decrypt ${object} | tar xz`, alice);
    expect(readdirSync(dir).sort()).toEqual(["manifest.json", "postgres"]);
    psql("postgres", "create database shop_gpg");
    execFileSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "shop_gpg", "-f", "postgres/shop.sql"], {
      cwd: dir,
      env: pgEnv(),
    });
    expect(digest("shop_gpg")).toBe(digest("shop"));
    const plain = alice.decrypt(object).stdout;
    expect(plain.length).toBe(b.archiveBytes);

    // Coffer, without GnuPG: the decrypted .tar.gz, a range of it, a verification and a restore.
    const whole = await openDownload(s.t, b.id, null);
    expect(whole.headers["Content-Length"]).toBe(String(plain.length));
    expect((await read(whole.body!)).equals(plain)).toBe(true);
    const part = await openDownload(s.t, b.id, "bytes=100-4099");
    expect(part.status).toBe(206);
    expect((await read(part.body!)).equals(plain.subarray(100, 4100))).toBe(true);

    const v = await requestVerification(s.t, { backupId: b.id });
    engine.send([restoreEvent({ teamId: s.t.id, serverId: v.serverId, restoreId: v.id, kind: "verify" })]);
    await engine.idle();
    expect(await getRestore(s.t, v.id)).toMatchObject({ status: "succeeded", result: { differences: [] } });

    const r = await requestDatabaseRestore(s.t, {
      backupId: b.id,
      member: "postgres/shop.sql",
      serverId: s.serverId,
      connectionSourceId: s.sourceId,
      targetDatabase: "shop_coffer",
      mode: "new",
    });
    engine.send([restoreEvent({ teamId: s.t.id, serverId: s.serverId, restoreId: r.id, kind: "database" })]);
    await engine.idle();
    expect((await getRestore(s.t, r.id)).status).toBe("succeeded");
    expect(digest("shop_coffer")).toBe(digest("shop"));

    // Offline, with the object and the master keys only.
    const out = path.join(work, "offline.tar.gz");
    execFileSync("npx", ["tsx", "--conditions=react-server", "scripts/coffer.mts", "decrypt", object, out], {
      cwd: path.resolve(import.meta.dirname, "../.."),
      env: { ...process.env, MASTER_KEYS: process.env.MASTER_KEYS! },
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(readFileSync(out).equals(plain)).toBe(true);
  }, 180_000);

  it("the API's run of an OpenPGP schedule makes an OpenPGP backup, and the API shows each one's format", async () => {
    const s = await setup();
    const key = alice.genKey("Api <api@example.test>", "future-default");
    await addTeamKey(s.t, { key: alice.exportPublic(key) });
    const { id: scheduleId } = await nightlyOpenPgp(s);
    const { token } = await createApiToken(s.t, { name: "ci", scopes: ["read", "backups:write"] });
    const schedule = await call(scheduleRoute.GET, "GET", `/schedules/${scheduleId}`, {
      token,
      params: { scheduleId },
    });
    expect(schedule.json).toMatchObject({ encrypted: true, encryption: "openpgp" });
    conforms("/schedules/{scheduleId}", "get", schedule);
    const run = await call(runRoute.POST, "POST", `/schedules/${scheduleId}/run`, { token, params: { scheduleId } });
    expect(run.status).toBe(201);
    expect(run.json).toMatchObject({ trigger: "api", encrypted: true, encryption: "openpgp" });
    conforms("/schedules/{scheduleId}/run", "post", run);
    await engine.idle();
    const b = await getBackup(s.t, run.json.id);
    expect(b).toMatchObject({ status: "succeeded", encryption: "openpgp" });
    expect(b.locations[0]!.objectKey).toMatch(/\.tar\.gz\.gpg$/);
  });

  it("a backup made after a second key is added decrypts with either key; a flipped byte fails Coffer's download and gpg alike", async () => {
    const s = await setup();
    const a = alice.genKey("First <first@example.test>", "future-default");
    await addTeamKey(s.t, { key: alice.exportPublic(a) });
    const backUp = async () => {
      const b = await backUpNow(engine, s.t, {
        serverId: s.serverId,
        sourceIds: [s.sourceId],
        destinationIds: [s.destinationId],
        encrypted: true,
        encryption: "openpgp",
      });
      expect(b).toMatchObject({ status: "succeeded", encryption: "openpgp" });
      return { b, file: s.objectPath(b.locations[0]!.objectKey) };
    };
    const before = await backUp();
    const bobKey = bob.genKey("Escrow <escrow@example.test>"); // RSA 3072, GnuPG 2.2's default
    await addTeamKey(s.t, { key: bob.exportPublic(bobKey) });
    const after = await backUp();

    expect(alice.decrypt(after.file).status).toBe(0);
    expect(bob.decrypt(after.file).status).toBe(0);
    expect(bob.decrypt(after.file).stdout.equals(alice.decrypt(after.file).stdout)).toBe(true);
    expect(bob.decrypt(before.file).status).not.toBe(0); // added later: only later backups are encrypted to it
    const intact = await read((await openDownload(s.t, after.b.id, null)).body!);
    expect(intact.equals(bob.decrypt(after.file).stdout)).toBe(true);
    // The raw .gpg, as stored: members and above, this team only.
    const raw = await openStoredObject(s.t, after.b.id);
    expect(raw.headers["Content-Disposition"]).toBe(`attachment; filename="${after.b.fileName}.gpg"`);
    expect((await read(raw.body!)).equals(readFileSync(after.file))).toBe(true);
    const codeOf = async (p: Promise<unknown>) => asAppError(await p.catch((e: unknown) => e))?.code;
    expect(await codeOf(openStoredObject({ ...s.t, role: "viewer" }, after.b.id))).toBe("FORBIDDEN");
    const other = await (await signedUpUser("Else")).team("admin");
    expect(await codeOf(openStoredObject(other, after.b.id))).toBe("NOT_FOUND");

    // One byte flipped in the middle of the stored object.
    const bytes = readFileSync(after.file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(after.file, bytes);
    const gpg = alice.decrypt(after.file);
    expect(gpg.status).not.toBe(0);
    expect(gpg.stderr).toMatch(/manipulated|decryption failed|invalid packet/i);
    const err = asAppError(await openDownload(s.t, after.b.id, null).catch((e: unknown) => e));
    expect(err?.message).toMatch(/integrity check \(MDC\) failed|damaged/);
    const ranged = asAppError(await openDownload(s.t, after.b.id, "bytes=0-9").catch((e: unknown) => e));
    expect(ranged?.message).toMatch(/integrity check \(MDC\) failed|damaged/);
  }, 180_000);

  it("the stored-object route, served as Next.js serves it: a HEAD reads one byte and holds nothing after (no lease, no audit row); a GET sends its Content-Length", async () => {
    const s = await setup();
    await addTeamKey(s.t, { key: alice.exportPublic(alice.genKey("Head <head@example.test>", "future-default")) });
    const b = await backUpNow(engine, s.t, {
      serverId: s.serverId,
      sourceIds: [s.sourceId],
      destinationIds: [s.destinationId],
      encrypted: true,
      encryption: "openpgp",
    });
    const stored = readFileSync(s.objectPath(b.locations[0]!.objectKey));
    expect(stored.length).toBe(b.sizeBytes);
    const app = await serveRoute(objectRoute, { team: s.t.slug, backupId: b.id });
    const cookie = await sessionCookie(s.t.actor.userId!);
    const fetchObject = (method: string) =>
      fetch(`${app.url}/api/teams/${s.t.slug}/backups/${b.id}/object`, { method, headers: { cookie } });
    const downloads = async () => (await listAuditEvents(s.t, { action: "backup.downloaded" })).events;
    const lease = async () =>
      (await (await db()).select({ until: backups.readingUntil }).from(backups).where(eq(backups.id, b.id)))[0]!.until;
    try {
      // What a download manager asks first.
      const head = await fetchObject("HEAD");
      expect(await downloads()).toEqual([]);
      expect(await lease()).toBeNull(); // retention and "Delete from trash" may take it at once
      expect(head.status).toBe(200);
      expect(Object.fromEntries(head.headers)).toMatchObject({
        "content-type": "application/pgp-encrypted",
        "content-length": String(stored.length),
        "content-disposition": `attachment; filename="${b.fileName}.gpg"`,
        "cache-control": "private, no-store",
      });

      const get = await fetchObject("GET");
      expect(get.status).toBe(200);
      expect(get.headers.get("content-length")).toBe(String(stored.length));
      expect(get.headers.get("transfer-encoding")).toBeNull();
      expect(Buffer.from(await get.arrayBuffer()).equals(stored)).toBe(true);
      expect(await downloads()).toHaveLength(1);
    } finally {
      app.close();
    }
  }, 180_000);
});

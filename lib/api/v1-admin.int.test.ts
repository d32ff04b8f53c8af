/**
 * /api/v1 for what admins manage: schedules, servers, sources and destinations; and usage and cost. Through the route handlers with real Request objects,
 * on real PostgreSQL with the in-process workflow engine; every JSON answer is checked against the
 * published OpenAPI document.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiToken } from "@/lib/api-tokens/tokens";
import { getBackup, listBackups } from "@/lib/backups/queries";
import { createDestination } from "@/lib/destinations/mutations";
import { listDestinations } from "@/lib/destinations/queries";
import { listSchedules } from "@/lib/schedules/queries";
import { listServers, listSources } from "@/lib/servers/queries";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { call, conforms, seen } from "@/test/api-client";
import { insertBackupRow, insertLocationRow, setApiTokenRow, setBackupRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { inProcessEngine, type InProcessEngine } from "@/inngest/in-process";
import * as serversRoute from "@/app/api/v1/servers/route";
import * as serverRoute from "@/app/api/v1/servers/[serverId]/route";
import * as testServerRoute from "@/app/api/v1/servers/[serverId]/test/route";
import * as sourcesRoute from "@/app/api/v1/servers/[serverId]/sources/route";
import * as sourceRoute from "@/app/api/v1/sources/[sourceId]/route";
import * as testSourceRoute from "@/app/api/v1/sources/[sourceId]/test/route";
import * as destinationsRoute from "@/app/api/v1/destinations/route";
import * as destinationRoute from "@/app/api/v1/destinations/[destinationId]/route";
import * as testDestinationRoute from "@/app/api/v1/destinations/[destinationId]/test/route";
import * as usageRoute from "@/app/api/v1/usage/route";
import * as schedulesRoute from "@/app/api/v1/schedules/route";
import * as scheduleRoute from "@/app/api/v1/schedules/[scheduleId]/route";
import * as pauseRoute from "@/app/api/v1/schedules/[scheduleId]/pause/route";
import * as resumeRoute from "@/app/api/v1/schedules/[scheduleId]/resume/route";
import * as runRoute from "@/app/api/v1/schedules/[scheduleId]/run/route";
import * as previewRoute from "@/app/api/v1/schedules/[scheduleId]/retention-preview/route";

let engine: InProcessEngine;
let scratch: string;

beforeAll(async () => {
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  scratch = mkdtempSync(path.join(tmpdir(), "coffer-api-admin-"));
});
afterAll(() => engine?.stop());

/** A team with a folder on this host, a local-disk destination, an all-scopes token and a read token. */
async function arranged(name: string) {
  const user = await signedUpUser(name);
  const t = await user.team("admin");
  const folder = mkdtempSync(path.join(scratch, "data-"));
  writeFileSync(path.join(folder, "blob.bin"), randomBytes(100_000));
  const { id: serverId } = await createServer(t, { kind: "local", name: "this host", workDir: "/var/tmp" });
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "directory",
    name: "blob",
    paths: [folder],
    excludes: [],
  });
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix: "api-admin" });
  const admin = await createApiToken(t, { name: "ops", scopes: ["read", "backups:write", "admin"] });
  const { token: read } = await createApiToken(t, { name: "dash", scopes: ["read"] });
  return { t, serverId, sourceId, destinationId, token: admin.token, tokenId: admin.id, read };
}

const nightly = (a: { serverId: string; sourceId: string; destinationId: string }) => ({
  name: "nightly",
  serverId: a.serverId,
  sourceIds: [a.sourceId],
  destinationIds: [a.destinationId],
  when: { kind: "daily", time: "02:30" },
  timezone: "Europe/Berlin",
  encrypted: false,
  verify: false, // a verification would hold the backup (in use) and keep it as the latest verified
});

describe("/api/v1/schedules", () => {
  it("creates, lists, gets, replaces, pauses, resumes, runs, previews retention and deletes a schedule", async () => {
    const a = await arranged("Sched");
    const created = await call(schedulesRoute.POST, "POST", "/schedules", { token: a.token, json: nightly(a) });
    expect(created.status).toBe(201);
    conforms("/schedules", "post", created);
    expect(created.json).toMatchObject({
      name: "nightly",
      cron: "30 2 * * *",
      timezone: "Europe/Berlin",
      enabled: true,
      encrypted: false,
      sources: [{ id: a.sourceId, name: "blob" }],
      destinations: [{ id: a.destinationId, name: "disk" }],
    });
    expect(created.json.upcoming).toHaveLength(3);
    const id = created.json.id as string;
    const params = { scheduleId: id };

    const list = await call(schedulesRoute.GET, "GET", "/schedules", { token: a.read });
    expect(list.status).toBe(200);
    conforms("/schedules", "get", list);
    expect(list.json.data.map((s: { id: string }) => s.id)).toEqual([id]);
    const got = await call(scheduleRoute.GET, "GET", `/schedules/${id}`, { token: a.read, params });
    expect(got.status).toBe(200);
    conforms("/schedules/{scheduleId}", "get", got);
    expect(got.json).toEqual(created.json);

    const replaced = await call(scheduleRoute.PUT, "PUT", `/schedules/${id}`, {
      token: a.token,
      params,
      json: { ...nightly(a), name: "hourly", when: { kind: "hourly", minute: 15 }, retention: { last: 3, daily: 14 } },
    });
    expect(replaced.status).toBe(200);
    conforms("/schedules/{scheduleId}", "put", replaced);
    const [stored] = await listSchedules(a.t);
    expect(stored).toMatchObject({ name: "hourly", cron: "15 * * * *", retention: { last: 3, daily: 14, weekly: 4 } });

    const paused = await call(pauseRoute.POST, "POST", `/schedules/${id}/pause`, { token: a.token, params });
    expect(paused.status).toBe(200);
    conforms("/schedules/{scheduleId}/pause", "post", paused);
    expect(paused.json).toMatchObject({ enabled: false, nextRunAt: null, upcoming: [] });
    const resumed = await call(resumeRoute.POST, "POST", `/schedules/${id}/resume`, { token: a.token, params });
    conforms("/schedules/{scheduleId}/resume", "post", resumed);
    expect(resumed.json.enabled).toBe(true);
    expect(new Date(resumed.json.nextRunAt).getTime()).toBeGreaterThan(Date.now());

    // Run now twice: backups of the schedule's selection, made its backups here so retention judges them.
    const runs: string[] = [];
    for (const _ of [1, 2]) {
      const run = await call(runRoute.POST, "POST", `/schedules/${id}/run`, { token: a.token, params });
      expect(run.status).toBe(201);
      conforms("/schedules/{scheduleId}/run", "post", run);
      expect(run.json).toMatchObject({ serverId: a.serverId, trigger: "api", encrypted: false });
      await engine.idle();
      expect(await getBackup(a.t, run.json.id)).toMatchObject({
        status: "succeeded",
        locations: [{ destinationId: a.destinationId, status: "stored" }],
      });
      await setBackupRow(run.json.id, {
        scheduleId: id,
        startedAt: new Date(Date.now() - 3_600_000 * (3 - runs.length)),
      });
      runs.push(run.json.id);
    }
    const preview = await call(previewRoute.POST, "POST", `/schedules/${id}/retention-preview`, {
      token: a.read,
      params,
      json: { retention: { keepAll: false, last: 1, daily: 0, weekly: 0, monthly: 0, yearly: 0 } },
    });
    expect(preview.status).toBe(200);
    conforms("/schedules/{scheduleId}/retention-preview", "post", preview);
    expect(preview.json).toEqual({ expire: [{ id: runs[0], fileName: expect.any(String) }], keep: 1 });
    const own = await call(previewRoute.POST, "POST", `/schedules/${id}/retention-preview`, {
      token: a.read,
      params,
      json: {},
    });
    expect(own.json).toEqual({ expire: [], keep: 2 });
    expect((await getBackup(a.t, runs[0]!)).expiredAt).toBeNull();

    const deleted = await call(scheduleRoute.DELETE, "DELETE", `/schedules/${id}`, { token: a.token, params });
    expect(deleted.status).toBe(200);
    conforms("/schedules/{scheduleId}", "delete", deleted);
    expect(await listSchedules(a.t)).toEqual([]);
    expect((await getBackup(a.t, runs[0]!)).status).toBe("succeeded");
  });

  it("refuses a read token (403) and a token whose role is capped below the action's (403); another team's ids are 404; nothing changes", async () => {
    const a = await arranged("SchedA");
    const b = await arranged("SchedB");
    const made = await call(schedulesRoute.POST, "POST", "/schedules", { token: a.token, json: nightly(a) });
    const id = made.json.id as string;
    const params = { scheduleId: id };
    const before = await listSchedules(a.t);

    const writes = [
      () => call(schedulesRoute.POST, "POST", "/schedules", { token: a.read, json: { ...nightly(a), name: "other" } }),
      () =>
        call(scheduleRoute.PUT, "PUT", `/schedules/${id}`, {
          token: a.read,
          params,
          json: { ...nightly(a), name: "x" },
        }),
      () => call(scheduleRoute.DELETE, "DELETE", `/schedules/${id}`, { token: a.read, params }),
      () => call(pauseRoute.POST, "POST", `/schedules/${id}/pause`, { token: a.read, params }),
      () => call(resumeRoute.POST, "POST", `/schedules/${id}/resume`, { token: a.read, params }),
      () => call(runRoute.POST, "POST", `/schedules/${id}/run`, { token: a.read, params }),
    ];
    for (const write of writes) {
      const r = await write();
      expect(r.status).toBe(403);
      expect(r.json.error.code).toBe("FORBIDDEN");
      expect(r.json.error.message).toMatch(/lacks the (admin|backups:write) scope/);
    }

    // The token's creator is a viewer now: its role caps it below what the action needs.
    await setApiTokenRow(a.tokenId, { role: "viewer" });
    const capped = await call(pauseRoute.POST, "POST", `/schedules/${id}/pause`, { token: a.token, params });
    expect(capped.status).toBe(403);
    conforms("/schedules/{scheduleId}/pause", "post", capped);

    const theirs = [
      () => call(scheduleRoute.GET, "GET", `/schedules/${id}`, { token: b.token, params }),
      () => call(scheduleRoute.PUT, "PUT", `/schedules/${id}`, { token: b.token, params, json: nightly(b) }),
      () => call(scheduleRoute.DELETE, "DELETE", `/schedules/${id}`, { token: b.token, params }),
      () => call(pauseRoute.POST, "POST", `/schedules/${id}/pause`, { token: b.token, params }),
      () => call(resumeRoute.POST, "POST", `/schedules/${id}/resume`, { token: b.token, params }),
      () => call(runRoute.POST, "POST", `/schedules/${id}/run`, { token: b.token, params }),
      () => call(previewRoute.POST, "POST", `/schedules/${id}/retention-preview`, { token: b.token, params, json: {} }),
    ];
    for (const attempt of theirs) {
      const r = await attempt();
      expect(r.status).toBe(404);
      expect(r.json.error.code).toBe("NOT_FOUND");
    }
    // B's schedule cannot name A's server, sources or destinations either.
    const crossed = await call(schedulesRoute.POST, "POST", "/schedules", { token: b.token, json: nightly(a) });
    expect(crossed.status).toBe(404);
    await engine.idle();
    expect(await listSchedules(a.t)).toEqual(before);
    expect(await listSchedules(b.t)).toEqual([]);

    const unknown = await call(schedulesRoute.POST, "POST", "/schedules", {
      token: b.token,
      json: { ...nightly(b), cronn: "* * * * *" },
    });
    expect(unknown.status).toBe(400);
    conforms("/schedules", "post", unknown);
  });

  it("answers a name in use with 409, as the document says, naming body.name; nothing changes", async () => {
    const a = await arranged("SchedNames");
    const first = await call(schedulesRoute.POST, "POST", "/schedules", { token: a.token, json: nightly(a) });
    const other = await call(schedulesRoute.POST, "POST", "/schedules", {
      token: a.token,
      json: { ...nightly(a), name: "weekly" },
    });
    expect([first.status, other.status]).toEqual([201, 201]);
    const before = await listSchedules(a.t);
    const again = await call(schedulesRoute.POST, "POST", "/schedules", { token: a.token, json: nightly(a) });
    expect(again.status).toBe(409);
    conforms("/schedules", "post", again);
    expect(again.json.error.details.fields).toEqual({ "body.name": ["Already in use."] });
    const renamed = await call(scheduleRoute.PUT, "PUT", `/schedules/${other.json.id}`, {
      token: a.token,
      params: { scheduleId: other.json.id },
      json: nightly(a),
    });
    expect(renamed.status).toBe(409);
    conforms("/schedules/{scheduleId}", "put", renamed);
    expect(renamed.json.error.details.fields).toEqual({ "body.name": ["Already in use."] });
    await engine.idle();
    expect(await listSchedules(a.t)).toEqual(before);
  });
});

describe("/api/v1 servers, sources and destinations", () => {
  it("creates, replaces, tests and deletes each, and never answers with a secret", async () => {
    const a = await arranged("Infra");
    const secrets = [
      "ssh-pass-" + randomBytes(8).toString("hex"),
      "pg-pass-" + randomBytes(8).toString("hex"),
      "s3-key-" + randomBytes(8).toString("hex"),
    ];
    const from = seen.length;

    const ssh = {
      kind: "ssh",
      name: "db1",
      host: "127.0.0.1",
      port: 2222,
      username: "coffer",
      authMethod: "password",
      password: secrets[0],
    };
    const server = await call(serversRoute.POST, "POST", "/servers", { token: a.token, json: ssh });
    expect(server.status).toBe(201);
    conforms("/servers", "post", server);
    expect(server.json).toMatchObject({ name: "db1", kind: "ssh", host: "127.0.0.1", hasPassword: true, sources: [] });
    const serverId = server.json.id as string;
    // A replace without the password keeps the stored one.
    const { password: _, ...withoutPassword } = ssh;
    const renamed = await call(serverRoute.PUT, "PUT", `/servers/${serverId}`, {
      token: a.token,
      params: { serverId },
      json: { ...withoutPassword, name: "db-primary" },
    });
    expect(renamed.status).toBe(200);
    conforms("/servers/{serverId}", "put", renamed);
    expect(renamed.json).toMatchObject({ name: "db-primary", hasPassword: true });

    const pg = {
      kind: "postgres",
      name: "app",
      pgHost: "127.0.0.1",
      pgDatabase: "app",
      pgUser: "app",
      pgPassword: secrets[1],
      pgSslmode: "verify-full",
    };
    const source = await call(sourcesRoute.POST, "POST", `/servers/${serverId}/sources`, {
      token: a.token,
      params: { serverId },
      json: pg,
    });
    expect(source.status).toBe(201);
    conforms("/servers/{serverId}/sources", "post", source);
    expect(source.json).toMatchObject({
      serverId,
      kind: "postgres",
      pgDatabase: "app",
      hasPgPassword: true,
      pgSslmode: "verify-full",
      pgRequireScram: true,
    });
    const sourceId = source.json.id as string;
    // A replace without the password or the SSL mode keeps both: the SSL mode is never weakened unasked.
    const { pgPassword: __, pgSslmode: _mode, ...withoutPgPassword } = pg;
    const moved = await call(sourceRoute.PUT, "PUT", `/sources/${sourceId}`, {
      token: a.token,
      params: { sourceId },
      json: { ...withoutPgPassword, pgDatabase: "app2" },
    });
    expect(moved.status).toBe(200);
    conforms("/sources/{sourceId}", "put", moved);
    expect(moved.json).toMatchObject({ pgDatabase: "app2", hasPgPassword: true, pgSslmode: "verify-full" });

    // Tests: the local folder source on this host passes; the ssh server (nothing listening) says what failed.
    const folderOk = await call(testSourceRoute.POST, "POST", `/sources/${a.sourceId}/test`, {
      token: a.token,
      params: { sourceId: a.sourceId },
    });
    expect(folderOk.status).toBe(200);
    conforms("/sources/{sourceId}/test", "post", folderOk);
    expect(folderOk.json.ok).toBe(true);
    const sshDown = await call(testServerRoute.POST, "POST", `/servers/${serverId}/test`, {
      token: a.token,
      params: { serverId },
    });
    expect(sshDown.status).toBe(200);
    conforms("/servers/{serverId}/test", "post", sshDown);
    expect(sshDown.json).toMatchObject({ ok: false, message: expect.any(String) });
    const checkedServer = await call(serverRoute.GET, "GET", `/servers/${serverId}`, {
      token: a.read,
      params: { serverId },
    });
    expect(checkedServer.json).toMatchObject({ checkOk: false, checkMessage: sshDown.json.message });
    const localOk = await call(testServerRoute.POST, "POST", `/servers/${a.serverId}/test`, {
      token: a.token,
      params: { serverId: a.serverId },
    });
    expect(localOk.json.ok).toBe(true);

    const s3 = {
      kind: "s3",
      name: "offsite",
      bucket: "coffer",
      region: "us-east-1",
      endpoint: "http://127.0.0.1:9",
      forcePathStyle: true,
      accessKeyId: "AKIAEXAMPLE",
      secretAccessKey: secrets[2],
    };
    const dest = await call(destinationsRoute.POST, "POST", "/destinations", { token: a.token, json: s3 });
    expect(dest.status).toBe(201);
    conforms("/destinations", "post", dest);
    expect(dest.json).toMatchObject({ name: "offsite", kind: "s3" });
    expect(dest.json.credentialFields).toEqual(expect.arrayContaining(["accessKeyId", "secretAccessKey"]));
    const destinationId = dest.json.id as string;
    const { secretAccessKey: ___, accessKeyId: ____, ...withoutKeys } = s3;
    const redone = await call(destinationRoute.PUT, "PUT", `/destinations/${destinationId}`, {
      token: a.token,
      params: { destinationId },
      json: { ...withoutKeys, name: "offsite-2" },
    });
    expect(redone.status).toBe(200);
    conforms("/destinations/{destinationId}", "put", redone);
    expect(redone.json.credentialFields).toEqual(expect.arrayContaining(["secretAccessKey"]));
    const diskOk = await call(testDestinationRoute.POST, "POST", `/destinations/${a.destinationId}/test`, {
      token: a.token,
      params: { destinationId: a.destinationId },
    });
    expect(diskOk.status).toBe(200);
    conforms("/destinations/{destinationId}/test", "post", diskOk);
    expect(diskOk.json.ok).toBe(true);

    const answers = seen.slice(from).join("\n");
    for (const secret of secrets) expect(answers).not.toContain(secret);

    for (const [handler, url, params] of [
      [sourceRoute.DELETE, `/sources/${sourceId}`, { sourceId }],
      [serverRoute.DELETE, `/servers/${serverId}`, { serverId }],
      [destinationRoute.DELETE, `/destinations/${destinationId}`, { destinationId }],
    ] as const) {
      const r = await call(handler, "DELETE", url, { token: a.token, params });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ id: Object.values(params)[0], deleted: true });
    }
    expect((await listServers(a.t)).map((s) => s.id)).toEqual([a.serverId]);
    expect((await listDestinations(a.t)).map((d) => d.id)).toEqual([a.destinationId]);
  });

  it("refuses a read token (403) on every write; another team's ids are 404; nothing changes", async () => {
    const a = await arranged("InfraA");
    const b = await arranged("InfraB");
    const before = {
      servers: await listServers(a.t),
      sources: await listSources(a.t, a.serverId),
      destinations: await listDestinations(a.t),
    };
    const local = { kind: "local", name: "renamed", workDir: "/var/tmp" };
    const folder = { kind: "directory", name: "renamed", paths: ["/var/tmp"] };
    const disk = { kind: "local", name: "renamed", prefix: "x" };
    const sp = { serverId: a.serverId };
    const op = { sourceId: a.sourceId };
    const dp = { destinationId: a.destinationId };
    const writes = (token: string) => [
      () => call(serverRoute.PUT, "PUT", `/servers/${a.serverId}`, { token, params: sp, json: local }),
      () => call(serverRoute.DELETE, "DELETE", `/servers/${a.serverId}`, { token, params: sp }),
      () => call(testServerRoute.POST, "POST", `/servers/${a.serverId}/test`, { token, params: sp }),
      () => call(sourcesRoute.POST, "POST", `/servers/${a.serverId}/sources`, { token, params: sp, json: folder }),
      () => call(sourceRoute.PUT, "PUT", `/sources/${a.sourceId}`, { token, params: op, json: folder }),
      () => call(sourceRoute.DELETE, "DELETE", `/sources/${a.sourceId}`, { token, params: op }),
      () => call(testSourceRoute.POST, "POST", `/sources/${a.sourceId}/test`, { token, params: op }),
      () => call(destinationRoute.PUT, "PUT", `/destinations/${a.destinationId}`, { token, params: dp, json: disk }),
      () => call(destinationRoute.DELETE, "DELETE", `/destinations/${a.destinationId}`, { token, params: dp }),
      () => call(testDestinationRoute.POST, "POST", `/destinations/${a.destinationId}/test`, { token, params: dp }),
    ];
    for (const write of [
      ...writes(a.read),
      () => call(serversRoute.POST, "POST", "/servers", { token: a.read, json: local }),
      () => call(destinationsRoute.POST, "POST", "/destinations", { token: a.read, json: disk }),
    ]) {
      const r = await write();
      expect(r.status).toBe(403);
      expect(r.json.error.message).toMatch(/lacks the admin scope/);
    }
    for (const write of writes(b.token)) {
      const r = await write();
      expect(r.status).toBe(404);
      expect(r.json.error.code).toBe("NOT_FOUND");
    }
    expect({
      servers: await listServers(a.t),
      sources: await listSources(a.t, a.serverId),
      destinations: await listDestinations(a.t),
    }).toEqual(before);
    expect((await listServers(b.t)).map((s) => s.name)).toEqual(["this host"]);

    const unknown = await call(serversRoute.POST, "POST", "/servers", {
      token: a.token,
      json: { ...local, colour: "red" },
    });
    expect(unknown.status).toBe(400);
    conforms("/servers", "post", unknown);
    const unknownField = await call(destinationsRoute.POST, "POST", "/destinations", {
      token: a.token,
      json: { ...disk, bucket: "b" },
    });
    expect(unknownField.status).toBe(400);
    conforms("/destinations", "post", unknownField);
    expect(unknownField.json.error.details.fields["body.bucket"]).toEqual([
      "A local destination has no field bucket; use prefix.",
    ]);
    expect(await listDestinations(a.t)).toEqual(before.destinations);
  });
});

describe("/api/v1 refuses what it would otherwise ignore", () => {
  it("refuses an unknown field at any depth of a body with 400 naming its path, and stores nothing", async () => {
    const a = await arranged("Typos");
    const create = (json: object) => call(schedulesRoute.POST, "POST", "/schedules", { token: a.token, json });
    const typo = await create({ ...nightly(a), retention: { dialy: 60 } });
    expect(typo.status).toBe(400);
    conforms("/schedules", "post", typo);
    expect(typo.json.error.details.fields).toEqual({
      "body.retention.dialy": [
        "Unknown field (check its spelling): use keepAll, last, daily, weekly, monthly, yearly.",
      ],
    });
    expect(typo.json.error.message).toMatch(/body\.retention\.dialy/);
    const when = await create({ ...nightly(a), when: { kind: "daily", time: "02:30", minute: 5 } });
    expect(when.status).toBe(400);
    expect(Object.keys(when.json.error.details.fields)).toEqual(["body.when.minute"]);
    const top = await create({ ...nightly(a), cronn: "* * * * *" });
    expect(Object.keys(top.json.error.details.fields)).toEqual(["body.cronn"]);
    expect(await listSchedules(a.t)).toEqual([]);

    const made = await create({ ...nightly(a), retention: { daily: 3 } });
    expect(made.status).toBe(201);
    const params = { scheduleId: made.json.id as string };
    const replaced = await call(scheduleRoute.PUT, "PUT", `/schedules/${params.scheduleId}`, {
      token: a.token,
      params,
      json: { ...nightly(a), retention: { daily: 3, montly: 12 } },
    });
    expect(replaced.status).toBe(400);
    conforms("/schedules/{scheduleId}", "put", replaced);
    expect(Object.keys(replaced.json.error.details.fields)).toEqual(["body.retention.montly"]);
    const preview = await call(previewRoute.POST, "POST", `/schedules/${params.scheduleId}/retention-preview`, {
      token: a.read,
      params,
      json: { retention: { last: 1, yearly: 0, dialy: 1 } },
    });
    expect(preview.status).toBe(400);
    expect(Object.keys(preview.json.error.details.fields)).toEqual(["body.retention.dialy"]);
    const [stored] = await listSchedules(a.t);
    expect(stored!.retention).toMatchObject({ daily: 3, monthly: 6 });

    // The other bodies name their unknown fields the same way.
    const server = await call(serversRoute.POST, "POST", "/servers", {
      token: a.token,
      json: { kind: "local", name: "other", colour: "red" },
    });
    expect(server.status).toBe(400);
    expect(Object.keys(server.json.error.details.fields)).toEqual(["body.colour"]);
    const source = await call(sourcesRoute.POST, "POST", `/servers/${a.serverId}/sources`, {
      token: a.token,
      params: { serverId: a.serverId },
      json: { kind: "directory", name: "etc", paths: ["/etc"], exclude: ["*.tmp"] },
    });
    expect(source.status).toBe(400);
    expect(source.json.error.details.fields["body.exclude"]).toEqual([
      expect.stringMatching(/use kind, name, paths, excludes/),
    ]);
  });

  it("refuses a query parameter or a body sent to an operation that takes none, and does nothing", async () => {
    const a = await arranged("Undeclared");
    const listed = await call(serversRoute.GET, "GET", "/servers?limit=5", { token: a.read });
    expect(listed.status).toBe(400);
    conforms("/servers", "get", listed);
    expect(listed.json.error.details.fields).toEqual({
      "query.limit": ["This operation takes no query parameters: leave it out."],
    });
    const made = await call(schedulesRoute.POST, "POST", "/schedules", { token: a.token, json: nightly(a) });
    const params = { scheduleId: made.json.id as string };
    const run = (json?: unknown) =>
      call(runRoute.POST, "POST", `/schedules/${params.scheduleId}/run`, { token: a.token, params, json });
    const aimed = await run({ destinationIds: [a.destinationId] });
    expect(aimed.status).toBe(400);
    conforms("/schedules/{scheduleId}/run", "post", aimed);
    expect(aimed.json.error.details.fields).toEqual({
      "body.destinationIds": ["This operation takes no body: send none (or {})."],
    });
    expect((await run([1])).json.error.details.fields).toEqual({
      body: ["This operation takes no body: send none (or {})."],
    });
    const unknownQuery = await call(runRoute.POST, "POST", `/schedules/${params.scheduleId}/run?verify=true`, {
      token: a.token,
      params,
    });
    expect(unknownQuery.status).toBe(400);
    expect(await listBackups(a.t, { limit: 10 })).toMatchObject({ rows: [] });
    // No body, or an empty object, is what the operation takes.
    expect((await run()).status).toBe(201);
    expect((await run({})).status).toBe(201);
    // A query parameter an operation does not declare is named too, where it declares some.
    const paged = await call(schedulesRoute.GET, "GET", "/schedules?page=2", { token: a.read });
    expect(paged.status).toBe(400);
    expect(Object.keys(paged.json.error.details.fields)).toEqual(["query.page"]);
    await engine.idle();
  });

  it("answers 400 saying a source's kind cannot change when a replace sends another kind, and keeps the source", async () => {
    const a = await arranged("Kinds");
    const params = { sourceId: a.sourceId };
    const before = await listSources(a.t, a.serverId);
    const changed = await call(sourceRoute.PUT, "PUT", `/sources/${a.sourceId}`, {
      token: a.token,
      params,
      json: { kind: "postgres", name: "blob", pgHost: "127.0.0.1", pgDatabase: "app", pgUser: "app" },
    });
    expect(changed.status).toBe(400);
    conforms("/sources/{sourceId}", "put", changed);
    expect(changed.json.error).toMatchObject({
      code: "VALIDATION",
      message: expect.stringMatching(/kind cannot change.*directory/),
    });
    expect(Object.keys(changed.json.error.details.fields)).toEqual(["body.kind"]);
    expect(await listSources(a.t, a.serverId)).toEqual(before);
    const missing = await call(sourceRoute.PUT, "PUT", "/sources/src_00000000000000000000000000", {
      token: a.token,
      params: { sourceId: "src_00000000000000000000000000" },
      json: { kind: "directory", name: "blob", paths: ["/etc"] },
    });
    expect(missing.status).toBe(404);
  });
});

describe("/api/v1/usage", () => {
  it("answers a read token with the team's stored bytes and monthly cost per destination and class, its own only", async () => {
    const a = await arranged("Usage");
    const b = await arranged("UsageB");
    const { id: s3 } = await createDestination(a.t, {
      kind: "s3",
      name: "offsite",
      bucket: "coffer",
      region: "us-east-1",
      endpoint: "http://127.0.0.1:9",
      forcePathStyle: true,
      accessKeyId: "AKIAEXAMPLE",
      secretAccessKey: "not-shown",
    });
    const backupId = await insertBackupRow({
      teamId: a.t.id,
      serverId: a.serverId,
      trigger: "manual",
      status: "succeeded",
      encrypted: true,
      fileName: "a.tar.gz",
      sourceIds: [a.sourceId],
      destinationIds: [s3, a.destinationId],
    });
    const stored = { teamId: a.t.id, backupId, objectKey: "k", status: "stored" as const };
    await insertLocationRow({ ...stored, destinationId: s3, sizeBytes: 2_000_000_000, storageClass: "STANDARD" });
    await insertLocationRow({ ...stored, destinationId: a.destinationId, sizeBytes: 1_000, storageClass: null });

    const usage = await call(usageRoute.GET, "GET", "/usage", { token: a.read });
    expect(usage.status).toBe(200);
    conforms("/usage", "get", usage);
    expect(usage.json.lines).toEqual([
      expect.objectContaining({ destinationId: a.destinationId, objects: 1, bytes: 1_000, monthlyCost: 0 }),
      expect.objectContaining({
        destinationId: s3,
        kind: "s3",
        storageClass: "STANDARD",
        objects: 1,
        bytes: 2_000_000_000,
        pricePerGbMonth: 0.023,
      }),
    ]);
    expect(usage.json.bytes).toBe(2_000_001_000);
    expect(usage.json.monthlyCost).toBeCloseTo(0.046, 6);

    const theirs = await call(usageRoute.GET, "GET", "/usage", { token: b.read });
    expect(theirs.json).toEqual({ lines: [], bytes: 0, monthlyCost: 0 });
    expect((await call(usageRoute.GET, "GET", "/usage", {})).status).toBe(401);
  });
});

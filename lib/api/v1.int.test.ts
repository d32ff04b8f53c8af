/**
 * /api/v1 end to end through the route handlers themselves, called with real Request objects
 * (no running build): real PostgreSQL, the in-process workflow engine, a local-disk destination.
 * Every JSON answer is checked against the published OpenAPI document.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { apiIdempotencyKeys, apiTokens } from "@/db/schema";
import { db } from "@/lib/db";
import { createApiToken, revokeApiToken } from "@/lib/api-tokens/tokens";
import { env } from "@/lib/env";
import { listAuditEvents } from "@/lib/audit/queries";
import { getBackup, listBackups } from "@/lib/backups/queries";
import { createDestination } from "@/lib/destinations/mutations";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import type { TeamContext } from "@/lib/teams/context";
import { call, conforms, seen, type Handler } from "@/test/api-client";
import { ageIdempotencyKey, setApiTokenRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { inProcessEngine, type InProcessEngine } from "@/inngest/in-process";
import { pruneIdempotencyKeys } from "@/inngest/functions/prune-idempotency-keys";
import * as backupsRoute from "@/app/api/v1/backups/route";
import * as backupRoute from "@/app/api/v1/backups/[backupId]/route";
import * as cancelBackupRoute from "@/app/api/v1/backups/[backupId]/cancel/route";
import * as downloadRoute from "@/app/api/v1/backups/[backupId]/download/route";
import * as backupRestoresRoute from "@/app/api/v1/backups/[backupId]/restores/route";
import * as uploadRoute from "@/app/api/v1/backups/upload/route";
import * as restoresRoute from "@/app/api/v1/restores/route";
import * as restoreRoute from "@/app/api/v1/restores/[restoreId]/route";
import * as cancelRestoreRoute from "@/app/api/v1/restores/[restoreId]/cancel/route";
import * as verificationsRoute from "@/app/api/v1/verifications/route";
import * as serversRoute from "@/app/api/v1/servers/route";
import * as serverRoute from "@/app/api/v1/servers/[serverId]/route";
import * as destinationsRoute from "@/app/api/v1/destinations/route";
import * as destinationRoute from "@/app/api/v1/destinations/[destinationId]/route";
import * as auditLogRoute from "@/app/api/v1/audit-log/route";

let engine: InProcessEngine;
let scratch: string;

beforeAll(async () => {
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  scratch = mkdtempSync(path.join(tmpdir(), "coffer-api-"));
});
afterAll(() => engine?.stop());

/** A team with a folder on this host to back up to the local disk, and an API token. */
async function arranged(name: string, scopes: ("read" | "backups:write" | "restores:write" | "admin")[]) {
  const user = await signedUpUser(name);
  const t = await user.team("admin");
  const folder = mkdtempSync(path.join(scratch, "data-"));
  writeFileSync(path.join(folder, "blob.bin"), randomBytes(300_000));
  const { id: serverId } = await createServer(t, { kind: "local", name: "this host", workDir: "/var/tmp" });
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "directory",
    name: "blob",
    paths: [folder],
    excludes: [],
  });
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix: "api" });
  const { token, id: tokenId } = await createApiToken(t, { name: "ci", scopes });
  return { user, t, folder, serverId, sourceId, destinationId, token, tokenId };
}

const all = ["read", "backups:write", "restores:write", "admin"] as const;
const count = async (t: TeamContext) => (await listBackups(t, { limit: 200 })).rows.length;

describe("/api/v1", () => {
  it("keeps an Idempotency-Key for 24 hours: the daily prune deletes older keys, and a pruned key makes a new backup", async () => {
    const a = await arranged("Keys", [...all]);
    const trigger = { serverId: a.serverId, destinationIds: [a.destinationId] };
    const post = (key: string) =>
      call(backupsRoute.POST, "POST", "/backups", {
        token: a.token,
        json: trigger,
        headers: { "Idempotency-Key": key },
      });
    const old = await post("nightly-1");
    const recent = await post("nightly-2");
    expect([old.status, recent.status]).toEqual([201, 201]);
    await ageIdempotencyKey(a.t.id, "nightly-1", 25);
    await ageIdempotencyKey(a.t.id, "nightly-2", 23);

    await engine.runCron(pruneIdempotencyKeys);
    await engine.idle();
    const d = await db();
    const kept = await d
      .select({ key: apiIdempotencyKeys.key })
      .from(apiIdempotencyKeys)
      .where(eq(apiIdempotencyKeys.teamId, a.t.id));
    expect(kept.map((k) => k.key)).toEqual(["nightly-2"]);

    const replayed = await post("nightly-2");
    expect([replayed.status, replayed.json.id]).toEqual([200, recent.json.id]);
    const fresh = await post("nightly-1");
    expect(fresh.status).toBe(201);
    expect(fresh.json.id).not.toBe(old.json.id);
    await engine.idle();
  });

  it("an Idempotency-Key whose request died before it recorded its backup is taken again after 5 minutes, not refused for a day", async () => {
    const a = await arranged("Crash", [...all]);
    const post = (key: string) =>
      call(backupsRoute.POST, "POST", "/backups", {
        token: a.token,
        json: { serverId: a.serverId, destinationIds: [a.destinationId] },
        headers: { "Idempotency-Key": key },
      });
    // What a process killed between claiming the key and recording the backup leaves: a claim
    // with the request's hash and no backup (here the claims of two requests, their records undone).
    const d = await db();
    for (const [key, minutes] of [
      ["deploy-1", 6],
      ["deploy-2", 1],
    ] as const) {
      expect((await post(key)).status).toBe(201);
      await d
        .update(apiIdempotencyKeys)
        .set({ backupId: null, createdAt: new Date(Date.now() - minutes * 60_000) })
        .where(and(eq(apiIdempotencyKeys.teamId, a.t.id), eq(apiIdempotencyKeys.key, key)));
    }
    const retried = await post("deploy-1");
    expect(retried.status).toBe(201);
    expect((await post("deploy-1")).json.id).toBe(retried.json.id);
    const early = await post("deploy-2");
    expect([early.status, early.json.error.message]).toEqual([
      409,
      "A request with this Idempotency-Key is still being made; retry in a moment.",
    ]);
    await engine.idle();
  });

  it("runs a backup's life with a token: trigger (once per Idempotency-Key), list, get, download with Range, upload, verify, restore, cancel", async () => {
    const a = await arranged("Api", [...all]);
    const trigger = { serverId: a.serverId, destinationIds: [a.destinationId] };
    const first = await call(backupsRoute.POST, "POST", "/backups", {
      token: a.token,
      json: trigger,
      headers: { "Idempotency-Key": "deploy-42" },
    });
    expect(first.status).toBe(201);
    conforms("/backups", "post", first);
    expect(first.json).toMatchObject({ serverId: a.serverId, trigger: "api", encrypted: true });
    const again = await call(backupsRoute.POST, "POST", "/backups", {
      token: a.token,
      json: trigger,
      headers: { "Idempotency-Key": "deploy-42" },
    });
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotency-replayed")).toBe("true");
    expect(again.json.id).toBe(first.json.id);
    const otherBody = await call(backupsRoute.POST, "POST", "/backups", {
      token: a.token,
      json: { ...trigger, encrypted: false },
      headers: { "Idempotency-Key": "deploy-42" },
    });
    expect(otherBody.status).toBe(409);
    expect(otherBody.json.error.message).toMatch(/different body/);
    await engine.idle();
    expect(await count(a.t)).toBe(1);

    const id = first.json.id as string;
    const got = await call(backupRoute.GET, "GET", `/backups/${id}`, { token: a.token, params: { backupId: id } });
    expect(got.status).toBe(200);
    conforms("/backups/{backupId}", "get", got);
    expect(got.json).toMatchObject({
      status: "succeeded",
      locations: [{ destinationId: a.destinationId, status: "stored" }],
    });
    expect(got.json.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(got.json.log.length).toBeGreaterThan(0);

    // A second backup, then the list by pages of one, with filters.
    const second = await call(backupsRoute.POST, "POST", "/backups", {
      token: a.token,
      json: { ...trigger, encrypted: false },
    });
    expect(second.status).toBe(201);
    await engine.idle();
    const page1 = await call(
      backupsRoute.GET,
      "GET",
      `/backups?serverId=${a.serverId}&status=succeeded,failed&limit=1`,
      { token: a.token },
    );
    expect(page1.status).toBe(200);
    conforms("/backups", "get", page1);
    expect(page1.json.data.map((b: { id: string }) => b.id)).toEqual([second.json.id]);
    const page2 = await call(backupsRoute.GET, "GET", `/backups?limit=1&cursor=${page1.json.nextCursor}`, {
      token: a.token,
    });
    expect(page2.json).toMatchObject({ data: [{ id }], nextCursor: null });
    const none = await call(backupsRoute.GET, "GET", `/backups?status=failed&from=2020-01-01T00:00:00Z`, {
      token: a.token,
    });
    expect(none.json.data).toEqual([]);
    const future = await call(backupsRoute.GET, "GET", `/backups?to=2020-01-01T00:00:00Z`, { token: a.token });
    expect(future.json.data).toEqual([]);

    // Download whole, then resume from an offset: the same bytes.
    const whole = await call(downloadRoute.GET, "GET", `/backups/${id}/download`, {
      token: a.token,
      params: { backupId: id },
    });
    expect(whole.status).toBe(200);
    expect(whole.headers.get("content-type")).toBe("application/gzip");
    expect(whole.bytes.length).toBe(got.json.archiveBytes);
    const tail = await call(downloadRoute.GET, "GET", `/backups/${id}/download`, {
      token: a.token,
      params: { backupId: id },
      headers: { Range: "bytes=1000-" },
    });
    expect(tail.status).toBe(206);
    expect(tail.bytes.equals(whole.bytes.subarray(1000))).toBe(true);
    const past = await call(downloadRoute.GET, "GET", `/backups/${id}/download`, {
      token: a.token,
      params: { backupId: id },
      headers: { Range: `bytes=${whole.bytes.length}-` },
    });
    expect(past.status).toBe(416);
    // RFC 9110: a 416 says the size; its body is every error's, as the document says.
    expect(past.headers.get("content-range")).toBe(`bytes */${whole.bytes.length}`);
    expect(past.json.error).toMatchObject({ code: "VALIDATION", message: expect.stringMatching(/outside/) });
    conforms("/backups/{backupId}/download", "get", past);

    // Upload what was downloaded, as a new backup.
    const { id: disk2 } = await createDestination(a.t, { kind: "local", name: "disk 2", prefix: "api-2" });
    const uploaded = await call(
      uploadRoute.POST,
      "POST",
      `/backups/upload?serverId=${a.serverId}&destinationIds=${a.destinationId},${disk2}`,
      {
        token: a.token,
        raw: whole.bytes,
        headers: { "content-type": "application/gzip", "content-length": String(whole.bytes.length) },
      },
    );
    expect(uploaded.status).toBe(201);
    conforms("/backups/upload", "post", uploaded);
    // Without `encrypted` it is encrypted, as Back up now; both listed destinations got a copy.
    expect(await getBackup(a.t, uploaded.json.id)).toMatchObject({
      encrypted: true,
      locations: [expect.anything(), expect.anything()],
    });

    // Verify, restore folders, list them, and cancel what is over (409).
    const verification = await call(verificationsRoute.POST, "POST", "/verifications", {
      token: a.token,
      json: { backupId: id },
    });
    expect(verification.status).toBe(202);
    conforms("/verifications", "post", verification);
    const target = mkdtempSync(path.join(scratch, "restored-"));
    const restore = await call(restoresRoute.POST, "POST", "/restores", {
      token: a.token,
      json: {
        kind: "directory",
        backupId: id,
        serverId: a.serverId,
        members: [`files${a.folder}`],
        targetPath: target,
        mode: "overwrite",
      },
    });
    expect(restore.status, JSON.stringify(restore.json)).toBe(202);
    conforms("/restores", "post", restore);
    await engine.idle();
    const done = await call(restoreRoute.GET, "GET", `/restores/${restore.json.id}`, {
      token: a.token,
      params: { restoreId: restore.json.id },
    });
    conforms("/restores/{restoreId}", "get", done);
    expect(done.json).toMatchObject({ kind: "directory", status: "succeeded" });
    expect(
      readFileSync(path.join(target, a.folder.slice(1), "blob.bin")).equals(
        readFileSync(path.join(a.folder, "blob.bin")),
      ),
    ).toBe(true);
    const verified = await call(restoreRoute.GET, "GET", `/restores/${verification.json.id}`, {
      token: a.token,
      params: { restoreId: verification.json.id },
    });
    expect(verified.json).toMatchObject({ kind: "verify", status: "succeeded" });
    const listed = await call(backupRestoresRoute.GET, "GET", `/backups/${id}/restores`, {
      token: a.token,
      params: { backupId: id },
    });
    conforms("/backups/{backupId}/restores", "get", listed);
    expect(listed.json.data.map((r: { id: string }) => r.id).sort()).toEqual(
      [restore.json.id, verification.json.id].sort(),
    );
    const lateCancel = await call(cancelRestoreRoute.POST, "POST", `/restores/${restore.json.id}/cancel`, {
      token: a.token,
      params: { restoreId: restore.json.id },
    });
    expect(lateCancel.status).toBe(409);
    conforms("/restores/{restoreId}/cancel", "post", lateCancel);
    const lateBackupCancel = await call(cancelBackupRoute.POST, "POST", `/backups/${id}/cancel`, {
      token: a.token,
      params: { backupId: id },
    });
    expect(lateBackupCancel.status).toBe(409);
    conforms("/backups/{backupId}/cancel", "post", lateBackupCancel);

    // Servers (with sources) and destinations, as the pages show them.
    const servers = await call(serversRoute.GET, "GET", "/servers", { token: a.token });
    conforms("/servers", "get", servers);
    expect(servers.json.data).toMatchObject([{ id: a.serverId, kind: "local", sourceCount: 1 }]);
    const server = await call(serverRoute.GET, "GET", `/servers/${a.serverId}`, {
      token: a.token,
      params: { serverId: a.serverId },
    });
    conforms("/servers/{serverId}", "get", server);
    expect(server.json.sources).toMatchObject([{ id: a.sourceId, paths: [a.folder] }]);
    const destinations = await call(destinationsRoute.GET, "GET", "/destinations", { token: a.token });
    conforms("/destinations", "get", destinations);
    expect(destinations.json.data).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: a.destinationId, kind: "local" }),
        expect.objectContaining({ id: disk2, name: "disk 2" }),
      ]),
    );
    const destination = await call(destinationRoute.GET, "GET", `/destinations/${a.destinationId}`, {
      token: a.token,
      params: { destinationId: a.destinationId },
    });
    conforms("/destinations/{destinationId}", "get", destination);

    // What the token did is audited as that token (name, id, creator), and the token reads the log as JSON and CSV.
    const actor = `token ci (${a.tokenId}, created by ${a.user.email})`;
    const audit = await call(auditLogRoute.GET, "GET", "/audit-log?action=backup.requested", { token: a.token });
    conforms("/audit-log", "get", audit);
    expect(audit.json.data.map((e: { actor: string }) => e.actor)).toContain(actor);
    const csv = await call(auditLogRoute.GET, "GET", "/audit-log?format=csv&action=backup", { token: a.token });
    expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(csv.bytes.toString("utf8")).toContain(actor);
  });

  it("answers 404 to another team's ids and changes nothing; 403 beyond a token's scopes; 401 for revoked and expired tokens", async () => {
    const a = await arranged("Ann", [...all]);
    const b = await arranged("Bob", [...all]);
    const made = await call(backupsRoute.POST, "POST", "/backups", {
      token: a.token,
      json: { serverId: a.serverId, destinationIds: [a.destinationId] },
    });
    await engine.idle();
    const id = made.json.id as string;
    const before = JSON.stringify((await listBackups(a.t)).rows.map((r) => [r.id, r.status]));
    for (const [handler, method, url, extra] of [
      [backupRoute.GET, "GET", `/backups/${id}`, {}],
      [cancelBackupRoute.POST, "POST", `/backups/${id}/cancel`, {}],
      [downloadRoute.GET, "GET", `/backups/${id}/download`, {}],
      [backupRestoresRoute.GET, "GET", `/backups/${id}/restores`, {}],
      [verificationsRoute.POST, "POST", "/verifications", { json: { backupId: id } }],
      [backupsRoute.POST, "POST", "/backups", { json: { serverId: a.serverId, destinationIds: [a.destinationId] } }],
      [serverRoute.GET, "GET", `/servers/${a.serverId}`, { params: { serverId: a.serverId } }],
      [destinationRoute.GET, "GET", `/destinations/${a.destinationId}`, { params: { destinationId: a.destinationId } }],
    ] as const) {
      const r = await call(handler as Handler, method, url, { token: b.token, params: { backupId: id }, ...extra });
      expect(r.status, `${method} ${url}`).toBe(404);
      expect(r.json.error.code).toBe("NOT_FOUND");
    }
    expect(JSON.stringify((await listBackups(a.t)).rows.map((r) => [r.id, r.status]))).toBe(before);
    expect(await count(b.t)).toBe(0);
    const bList = await call(backupsRoute.GET, "GET", "/backups", { token: b.token });
    expect(bList.json.data).toEqual([]);

    // A read token reads but cannot trigger.
    const { token: readOnly } = await createApiToken(a.t, { name: "dashboard", scopes: ["read"] });
    expect((await call(backupsRoute.GET, "GET", "/backups", { token: readOnly })).status).toBe(200);
    const refused = await call(backupsRoute.POST, "POST", "/backups", {
      token: readOnly,
      json: { serverId: a.serverId, destinationIds: [a.destinationId] },
    });
    expect(refused.status).toBe(403);
    conforms("/backups", "post", refused);
    expect(refused.json.error.message).toMatch(/lacks the backups:write scope/);
    expect((await call(auditLogRoute.GET, "GET", "/audit-log", { token: readOnly })).status).toBe(403);
    const readDownload = await call(downloadRoute.GET, "GET", `/backups/${id}/download`, {
      token: readOnly,
      params: { backupId: id },
    });
    expect(readDownload.status).toBe(403);
    expect(readDownload.json.error.message).toMatch(/member role/);
    const noRestore = await call(verificationsRoute.POST, "POST", "/verifications", {
      token: readOnly,
      json: { backupId: id },
    });
    expect(noRestore.status).toBe(403);
    expect(await count(a.t)).toBe(1);

    await revokeApiToken(a.t, a.tokenId);
    const revoked = await call(backupsRoute.GET, "GET", "/backups", { token: a.token });
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get("www-authenticate")).toBe('Bearer realm="coffer"');
    expect(revoked.json.error.message).toMatch(/revoked/);
    conforms("/backups", "get", revoked);
    await setApiTokenRow(b.tokenId, { expiresAt: new Date(Date.now() - 1000) });
    const expired = await call(backupsRoute.GET, "GET", "/backups", { token: b.token });
    expect(expired.status).toBe(401);
    expect(expired.json.error.message).toMatch(/expired/);
  });

  it("refuses bad input with the status and a message that says what to fix, and changes nothing", async () => {
    const a = await arranged("Bad", [...all]);
    const post = (opts: Parameters<typeof call>[3]) =>
      call(backupsRoute.POST, "POST", "/backups", { token: a.token, ...opts });
    const good = { serverId: a.serverId, destinationIds: [a.destinationId] };

    const malformed = await post({ raw: "{ serverId: ", headers: { "content-type": "application/json" } });
    expect(malformed.status).toBe(400);
    expect(malformed.json.error.message).toMatch(/not valid JSON/);
    // The parser's own message quotes the text around the fault: never echoed.
    const secret = await post({
      raw: '{"secretAccessKey": wJalrXUtnFEMI }',
      headers: { "content-type": "application/json" },
    });
    expect(secret.json.error.message).toBe("The body is not valid JSON. Send a JSON object.");
    const cut = await post({ raw: '{"serverId": "srv_1" "x": 1}', headers: { "content-type": "application/json" } });
    expect(cut.json.error.message).toBe("The body is not valid JSON (at character 21). Send a JSON object.");
    conforms("/backups", "post", malformed);
    const notJson = await post({ raw: JSON.stringify(good), headers: { "content-type": "text/plain" } });
    expect(notJson.json.error.message).toMatch(/Content-Type: application\/json/);
    const wrongTypes = await post({ json: { ...good, encrypted: "yes", destinationIds: "dst_x" } });
    expect(wrongTypes.status).toBe(400);
    expect(Object.keys(wrongTypes.json.error.details.fields).sort()).toEqual(["body.destinationIds", "body.encrypted"]);
    const unknown = await post({ json: { ...good, encrypt: false } });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toMatch(/encrypt/);
    conforms("/backups", "post", unknown);
    // A field the lib refuses (a source of another server) is named as the schema's are: in the body.
    const { id: otherServer } = await createServer(a.t, { kind: "local", name: "other host", workDir: "/var/tmp" });
    const { id: otherSource } = await createSource(a.t, {
      serverId: otherServer,
      kind: "directory",
      name: "theirs",
      paths: [a.folder],
      excludes: [],
    });
    const foreignSource = await post({ json: { ...good, sourceIds: [otherSource] } });
    expect(foreignSource.status).toBe(400);
    conforms("/backups", "post", foreignSource);
    expect(foreignSource.json.error.details.fields).toEqual({
      "body.sourceIds": ["Every source must belong to the server."],
    });
    const wrongPrefix = await post({ json: { ...good, serverId: a.destinationId } });
    expect(wrongPrefix.json.error.details.fields["body.serverId"]).toBeDefined();
    const tooBig = await post({ json: { ...good, sourceIds: [], padding: "x".repeat(70 * 1024) } });
    expect(tooBig.status).toBe(413);
    conforms("/backups", "post", tooBig);
    const badPath = await call(backupRoute.GET, "GET", `/backups/${a.serverId}`, {
      token: a.token,
      params: { backupId: a.serverId },
    });
    expect(badPath.status).toBe(400);
    expect(badPath.json.error.details.fields["path.backupId"]).toEqual([
      "A backup id starts with bkp_ (use the id the API returned).",
    ]);
    const badQuery = await call(backupsRoute.GET, "GET", "/backups?status=done&limit=0&sort=asc", { token: a.token });
    expect(badQuery.status).toBe(400);
    expect(Object.keys(badQuery.json.error.details.fields).sort()).toEqual([
      "query.limit",
      "query.sort",
      "query.status.0",
    ]);
    // A repeated query parameter is refused, not read as its last value.
    const repeated = await call(backupsRoute.GET, "GET", "/backups?status=failed&status=succeeded", { token: a.token });
    expect(repeated.status).toBe(400);
    expect(repeated.json.error.details.fields).toEqual({ "query.status": ["Given more than once."] });
    const upload = (query: string) =>
      call(uploadRoute.POST, "POST", `/backups/upload?serverId=${a.serverId}&${query}`, {
        token: a.token,
        raw: gzipSync("not a tar"),
        headers: { "content-type": "application/gzip" },
      });
    const twice = await upload(`destinationIds=${a.destinationId}&destinationIds=${a.destinationId}`);
    expect(twice.json.error.details.fields).toEqual({ "query.destinationIds": ["Given more than once."] });
    const vague = await upload(`destinationIds=${a.destinationId}&encrypted=yes`);
    expect(vague.status).toBe(400);
    expect(vague.json.error.details.fields["query.encrypted"]).toEqual(["Use true or false."]);
    // Times PostgreSQL would refuse (year 0, February 30) are refused here, with the field named.
    const yearZero = await call(backupsRoute.GET, "GET", "/backups?from=0000-01-01T00:00:00Z", { token: a.token });
    expect(yearZero.json.error.details.fields).toEqual({ "query.from": ["Use a time from the year 1 to 9999."] });
    const someId = `bkp_${"0".repeat(26)}`;
    const zeroCursor = Buffer.from(JSON.stringify(["0000-01-01T00:00:00.000Z", someId])).toString("base64url");
    const oldCursor = await call(backupsRoute.GET, "GET", `/backups?cursor=${zeroCursor}`, { token: a.token });
    expect(oldCursor.status).toBe(400);
    // An id PostgreSQL could not take (a NUL) inside the cursor's encoding: refused, not a 500.
    const nulCursor = Buffer.from(JSON.stringify(["2026-01-01T00:00:00.000Z", "\u0000"])).toString("base64url");
    const nul = await call(backupsRoute.GET, "GET", `/backups?cursor=${nulCursor}`, { token: a.token });
    expect(nul.status).toBe(400);
    expect(nul.json.error.details.fields["query.cursor"]).toEqual([
      "Use the nextCursor of the previous page as it was returned.",
    ]);
    const noSuchDay = await call(auditLogRoute.GET, "GET", "/audit-log?cursor=2026-02-30T00:00:00.000000Z|aud_x", {
      token: a.token,
    });
    expect(noSuchDay.status).toBe(400);
    expect(noSuchDay.json.error.details.fields).toEqual({
      "query.cursor": ["Use the nextCursor of the previous page as it was returned."],
    });
    const badCursor = await call(backupsRoute.GET, "GET", "/backups?cursor=abc", { token: a.token });
    expect(badCursor.json.error.details.fields["query.cursor"]).toEqual([
      "Use the nextCursor of the previous page as it was returned.",
    ]);

    const traced = await post({ json: { ...good, extra: 1 }, headers: { "X-Request-Id": "ci-run-7" } });
    expect(traced.headers.get("x-request-id")).toBe("ci-run-7");
    const anonymous = await post({ token: null, json: good });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toBe('Bearer realm="coffer"');
    expect(anonymous.json.error.message).toMatch(/Send an API token/);
    const basic = await post({ token: null, json: good, headers: { authorization: `Basic ${a.token}` } });
    expect(basic.status).toBe(401);
    expect(basic.json.error.message).toMatch(/Authorization: Bearer coffer_/);
    expect(await count(a.t)).toBe(0);
  });

  it("refuses an upload whose Coffer manifest has a time PostgreSQL cannot store with 400, and keeps nothing of it", async () => {
    const a = await arranged("Year0", [...all]);
    const dir = mkdtempSync(path.join(scratch, "year0-"));
    const manifest = {
      format: 1,
      coffer: "1.0.0",
      backupId: "bkp_01jq8x2m4k9p3r7t5v6w8y0z2a",
      server: "this host",
      startedAt: "2026-01-01T00:00:00Z",
      finishedAt: "0000-01-01T00:00:00Z",
      sources: [],
      entries: [],
      postgres: [],
    };
    writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest));
    writeFileSync(path.join(dir, "data.bin"), randomBytes(200_000));
    const archive = execFileSync("tar", ["czf", "-", "-C", dir, "manifest.json", "data.bin"]);
    const before = await count(a.t);
    const refused = await call(
      uploadRoute.POST,
      "POST",
      `/backups/upload?serverId=${a.serverId}&destinationIds=${a.destinationId}`,
      {
        token: a.token,
        raw: archive,
        headers: { "content-type": "application/gzip", "content-length": String(archive.length) },
      },
    );
    expect(refused.status).toBe(400);
    conforms("/backups/upload", "post", refused);
    expect(refused.json.error.message).toBe(
      "The archive's manifest.json is not a Coffer manifest (format 1): finishedAt: a time from the year 1 to 9999 (UTC). Upload the archive as Coffer made it.",
    );
    // What the refusal left is a failed backup whose copy was deleted, as for any refused upload.
    const { rows } = await listBackups(a.t, { limit: 200 });
    expect(rows.length - before).toBeLessThanOrEqual(1);
    for (const b of rows) {
      const got = await getBackup(a.t, b.id);
      expect(got.status).toBe("failed");
      expect(got.locations.map((l) => l.status)).toEqual(got.locations.map(() => "deleted"));
    }
    const root = path.join(env().DATA_DIR, "storage", a.t.id);
    const kept = existsSync(root)
      ? readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
      : [];
    expect(kept).toEqual([]);
  });

  it("never shows or logs a token's plaintext after creation", async () => {
    const lines: string[] = [];
    const spies = (["log", "info", "warn", "error"] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" "))),
    );
    try {
      const a = await arranged("Quiet", [...all]);
      await call(backupsRoute.POST, "POST", "/backups", {
        token: a.token,
        json: { serverId: a.serverId, destinationIds: [a.destinationId] },
      });
      await engine.idle();
      await call(backupsRoute.GET, "GET", "/backups?status=nope", { token: a.token });
      await call(backupsRoute.GET, "GET", "/backups", { token: `${a.token}x` });
      const audit = JSON.stringify(await listAuditEvents(a.t, {}));
      const secret = a.token.slice("coffer_".length);
      expect(audit).not.toContain(secret);
      expect(seen.join("\n")).not.toContain(secret);
      expect(lines.join("\n")).not.toContain(secret);
    } finally {
      for (const s of spies) s.mockRestore();
    }
  });

  it("limits each token's rate with 429 and Retry-After", async () => {
    const a = await arranged("Busy", ["read"]);
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof call>> | undefined;
    // 1 200 a minute, refilled as the loop runs: the bucket empties after somewhat more than 1 200.
    for (let i = 0; i < 4000 && !limited; i++) {
      const r = await call(backupRoute.GET, "GET", "/backups/x", { token: a.token, params: { backupId: "x" } });
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    expect(statuses.slice(0, 1200).every((s) => s === 400)).toBe(true);
    expect(limited?.status).toBe(429);
    expect(Number(limited!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    conforms("/backups/{backupId}", "get", limited!);
    // Another token of the same team is not held back.
    const { token } = await createApiToken(a.t, { name: "other", scopes: ["read"] });
    expect((await call(backupsRoute.GET, "GET", "/backups", { token })).status).toBe(200);
  });

  it("counts a token's requests in the database, so every Coffer process holds it to one limit", async () => {
    const a = await arranged("Shared", ["read"]);
    const list = () => call(backupsRoute.GET, "GET", "/backups", { token: a.token });
    // Emptied by another process sharing the database (dated ahead, so nothing drips in during the test).
    await setApiTokenRow(a.tokenId, { rateTokens: 0.5, rateCheckedAt: new Date(Date.now() + 10_000) });
    const held = await list();
    expect(held.status).toBe(429);
    expect(held.headers.get("retry-after")).toBe("1");
    expect(held.json).toMatchObject({
      error: { message: "This token made too many requests; try again in 1 s." },
    });
    // A refusal takes nothing; a second later 20 requests have dripped in (1 200 a minute), and one
    // more every 50 ms while they are made.
    const started = Date.now();
    await setApiTokenRow(a.tokenId, { rateTokens: 0.5, rateCheckedAt: new Date(started - 1_000) });
    let served = 0;
    while (served < 1_000 && (await list()).status === 200) served++;
    expect(served).toBeGreaterThanOrEqual(20);
    expect(served).toBeLessThanOrEqual(20 + Math.ceil((Date.now() - started) / 50));

    // Requests at the same moment take from the bucket one after another: none reads it stale.
    const burst = Date.now();
    await setApiTokenRow(a.tokenId, { rateTokens: 3, rateCheckedAt: new Date(burst) });
    const statuses = await Promise.all(Array.from({ length: 20 }, async () => (await list()).status));
    const allowed = statuses.filter((s) => s === 200).length;
    expect(allowed).toBeGreaterThanOrEqual(3);
    expect(allowed).toBeLessThanOrEqual(3 + Math.ceil((Date.now() - burst) / 50));
    expect(statuses.filter((s) => s !== 200).every((s) => s === 429)).toBe(true);

    // A request that started before the last update (it waited for the row) does not put its clock back.
    const ahead = new Date(Date.now() + 5_000);
    await setApiTokenRow(a.tokenId, { rateTokens: 2, rateCheckedAt: ahead });
    expect((await list()).status).toBe(200);
    const [row] = await (
      await db()
    )
      .select({ at: apiTokens.rateCheckedAt })
      .from(apiTokens)
      .where(eq(apiTokens.id, a.tokenId));
    expect(row!.at).toEqual(ahead);
  });
});

/**
 * `npx coffer backup|backups|download|verify|status` run as child processes against this
 * process's /api/v1 route handlers served over real HTTP on 127.0.0.1 (not a next build).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiToken } from "@/lib/api-tokens/tokens";
import { createDestination } from "@/lib/destinations/mutations";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { signedUpUser } from "@/test/factories";
import { inProcessEngine, type InProcessEngine } from "@/inngest/in-process";
import * as backupsRoute from "@/app/api/v1/backups/route";
import * as backupRoute from "@/app/api/v1/backups/[backupId]/route";
import * as downloadRoute from "@/app/api/v1/backups/[backupId]/download/route";
import * as restoreRoute from "@/app/api/v1/restores/[restoreId]/route";
import * as verificationsRoute from "@/app/api/v1/verifications/route";
import * as restoresRoute from "@/app/api/v1/restores/route";
import { startPgCluster, type PgCluster } from "@/test/pg-cluster";
import { execFileSync } from "node:child_process";

type Handler = (request: Request, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;
const routes: [string, RegExp, Handler][] = [
  ["GET", /^\/api\/v1\/backups$/, backupsRoute.GET],
  ["POST", /^\/api\/v1\/backups$/, backupsRoute.POST],
  ["GET", /^\/api\/v1\/backups\/(?<backupId>[^/]+)$/, backupRoute.GET],
  ["GET", /^\/api\/v1\/backups\/(?<backupId>[^/]+)\/download$/, downloadRoute.GET],
  ["GET", /^\/api\/v1\/restores\/(?<restoreId>[^/]+)$/, restoreRoute.GET],
  ["POST", /^\/api\/v1\/verifications$/, verificationsRoute.POST],
  ["POST", /^\/api\/v1\/restores$/, restoresRoute.POST],
];

let engine: InProcessEngine;
let http: Server;
let base: string;
let scratch: string;
let pg: PgCluster | undefined;

beforeAll(async () => {
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  scratch = mkdtempSync(path.join(tmpdir(), "coffer-cli-"));
  http = createHttpServer(async (req, res) => {
    const url = new URL(req.url!, "http://127.0.0.1");
    const route = routes.find(([m, re]) => m === req.method && re.test(url.pathname));
    if (!route) return void res.writeHead(404).end();
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(url, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      ...(hasBody && { body: Readable.toWeb(req) as ReadableStream, duplex: "half" }),
    } as RequestInit);
    const response = await route[2](request, { params: Promise.resolve({ ...route[1].exec(url.pathname)!.groups }) });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (response.body) Readable.fromWeb(response.body as import("node:stream/web").ReadableStream).pipe(res);
    else res.end();
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => http?.close(r));
  await engine?.stop();
  await pg?.stop();
});

/** Runs `coffer <args>`; resolves with its exit code and output. */
function coffer(token: string, args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.join(import.meta.dirname, "../../scripts/coffer-bin.mjs"), ...args], {
      cwd: scratch,
      env: { ...process.env, COFFER_URL: base, COFFER_TOKEN: token },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe("coffer CLI against the API", () => {
  it("backs up with --wait, lists, downloads (resuming a cut download byte for byte), verifies with --wait, and exits 1 when a backup fails", async () => {
    const t = await (await signedUpUser("Cli")).team("admin");
    const folder = mkdtempSync(path.join(scratch, "data-"));
    writeFileSync(path.join(folder, "blob.bin"), randomBytes(2 * 1024 * 1024));
    const { id: serverId } = await createServer(t, { kind: "local", name: "this host", workDir: "/var/tmp" });
    const { id: sourceId } = await createSource(t, {
      serverId,
      kind: "directory",
      name: "blob",
      paths: [folder],
      excludes: [],
    });
    const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix: "cli" });
    const { token } = await createApiToken(t, { name: "cron", scopes: ["read", "backups:write", "restores:write"] });

    const made = await coffer(token, ["backup", serverId, "--destinations", destinationId, "--wait", "--json"]);
    expect(made.code, made.stderr).toBe(0);
    const backup = JSON.parse(made.stdout);
    expect(backup).toMatchObject({ status: "succeeded", serverId });
    expect(made.stderr).toMatch(/queued[\s\S]*succeeded/);

    const listed = await coffer(token, ["backups", "--server", serverId]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`${backup.id}\t`);

    // A first download, then one cut after 1 MiB and run again: the same bytes.
    const whole = await coffer(token, ["download", backup.id, "-o", "whole.tar.gz"]);
    expect(whole.code, whole.stderr).toBe(0);
    const bytes = readFileSync(path.join(scratch, "whole.tar.gz"));
    expect(bytes.length).toBe(backup.archiveBytes);
    writeFileSync(path.join(scratch, "cut.tar.gz.partial"), bytes.subarray(0, 1024 * 1024));
    const resumed = await coffer(token, ["download", backup.id, "-o", "cut.tar.gz"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain("Resuming at byte 1048576.");
    expect(readFileSync(path.join(scratch, "cut.tar.gz")).equals(bytes)).toBe(true);

    const verified = await coffer(token, ["verify", backup.id, "--wait"]);
    expect(verified.code, verified.stderr).toBe(0);
    const status = await coffer(token, ["status", verified.stdout.trim()]);
    expect(status.stdout).toMatch(/^rst_\w+\tsucceeded/);

    // A source whose folder is gone: the backup fails, and so does the command.
    rmSync(folder, { recursive: true });
    const failed = await coffer(token, [
      "backup",
      serverId,
      "--destinations",
      destinationId,
      "--sources",
      sourceId,
      "--wait",
    ]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/failed/);
    const failedStatus = await coffer(token, ["status", failed.stdout.trim()]);
    expect(failedStatus.code).toBe(1);

    // Mistakes: a usage error exits 2, an API refusal 1 with its message.
    expect((await coffer(token, ["backup", serverId])).code).toBe(2);
    const refused = await coffer(`${token}x`, ["backups"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^401: This API token is not valid/);
  });

  it("restores a database with --replace and --wait, as postgres-restore.sh --force does", async () => {
    pg = await startPgCluster();
    const psql = (db: string, sql: string) =>
      execFileSync("psql", [
        "-X",
        "-q",
        "-At",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "127.0.0.1",
        "-p",
        String(pg!.port),
        "-U",
        "postgres",
        "-d",
        db,
        "-c",
        sql,
      ])
        .toString()
        .trim();
    psql("postgres", "create database shop");
    psql("shop", "create table orders (id int primary key); insert into orders select generate_series(1, 500)");
    const t = await (await signedUpUser("Pgcli")).team("admin");
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
    const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix: "clipg" });
    const { token } = await createApiToken(t, { name: "deploy", scopes: ["read", "backups:write", "restores:write"] });

    const made = await coffer(token, ["backup", serverId, "--destinations", destinationId, "--wait"]);
    expect(made.code, made.stderr).toBe(0);
    psql("shop", "delete from orders where id > 10");
    const restored = await coffer(token, [
      "restore",
      made.stdout.trim(),
      "--server",
      serverId,
      "--database",
      "shop",
      "--connection",
      sourceId,
      "--replace",
      "--wait",
      "--json",
    ]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({
      kind: "database",
      status: "succeeded",
      targetDatabase: "shop",
      mode: "replace",
    });
    expect(psql("shop", "select count(*) from orders")).toBe("500");
  });
});

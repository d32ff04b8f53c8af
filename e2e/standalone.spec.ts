import { expect, test } from "@playwright/test";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { startPgCluster, type PgCluster } from "../test/pg-cluster";
import { addLocalServer, addPostgresSource, password, signUp, uniqueEmail } from "./helpers";

// The standalone build run as the container image runs it (Dockerfile): .next/standalone and
// .next/static copied to a folder of their own, `node server.js` with the production variables
// and PostgreSQL. Copying proves the server needs nothing else from the checkout. Its port is
// fixed like the other e2e servers' (the e2e lock keeps runs apart).
const port = 3219;
const baseURL = `http://127.0.0.1:${port}`;
test.use({ baseURL });
test.describe.configure({ mode: "serial" });

const work = mkdtempSync(path.join(tmpdir(), "coffer-standalone-"));
const secrets = {
  MASTER_KEYS: `standalone-1:${randomBytes(32).toString("base64")}`,
  AUTH_SECRET: randomBytes(32).toString("hex"),
};
let pg: PgCluster;
let server: ChildProcess;
let output = "";

test.beforeAll(async () => {
  test.setTimeout(120_000);
  const standalone = path.resolve(".next/standalone");
  if (!existsSync(path.join(standalone, "server.js")))
    throw new Error("No standalone build: run `npx next build` first (next.config.ts has output: standalone).");
  const app = path.join(work, "app");
  cpSync(standalone, app, { recursive: true });
  cpSync(path.resolve(".next/static"), path.join(app, ".next/static"), { recursive: true });

  pg = await startPgCluster();
  const admin = postgres(pg.url("postgres"), { max: 1, onnotice: () => {} });
  await admin`create database coffer`;
  await admin`create database shop`;
  await admin.end();
  const shop = postgres(pg.url("shop"), { max: 1, onnotice: () => {} });
  await shop.unsafe(
    "create table items (id int primary key, label text); insert into items values (1, 'kept-in-a-coffer');",
  );
  await shop.end();

  server = spawn(process.execPath, ["server.js"], {
    cwd: app,
    env: {
      PATH: process.env.PATH!,
      HOME: work,
      NODE_ENV: "production",
      HOSTNAME: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: path.join(work, "data"),
      DATABASE_URL: pg.url("coffer"),
      ...secrets,
      APP_URL: baseURL,
      // This host is the backed-up server, reaching the test PostgreSQL on 127.0.0.1.
      ALLOW_LOCAL_SERVERS: "true",
      ALLOW_PRIVATE_NETWORKS: "true",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout!.on("data", (d) => (output += d));
  server.stderr!.on("data", (d) => (output += d));
  await expect(async () => {
    expect(server.exitCode, output).toBeNull();
    expect((await fetch(`${baseURL}/api/health`)).status).toBe(200);
  }).toPass({ timeout: 60_000 });
});

test.afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once("exit", r));
    server.kill("SIGTERM");
    await exited;
  }
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("the standalone server signs people up and in, backs up, and serves the download", async ({ page, browser }) => {
  test.setTimeout(180_000);
  const email = uniqueEmail("stan");
  const team = await signUp(page, "Stan", email);

  // Signing in again in a fresh browser.
  const other = await browser.newContext();
  const fresh = await other.newPage();
  await fresh.goto("/sign-in");
  await fresh.getByLabel("E-mail").fill(email);
  await fresh.getByLabel("Password").fill(password);
  await fresh.getByRole("button", { name: "Sign in" }).click();
  await expect(fresh.getByRole("heading", { name: "Overview" })).toBeVisible();
  await other.close();

  const serverPath = await addLocalServer(page, team, "db-host");
  await addPostgresSource(page, { name: "shop-db", port: pg.port, database: "shop" });
  await page.goto(`/${team}/storage`);
  await page.getByLabel("Name").fill("disk");
  await page.getByRole("button", { name: "Add destination" }).click();
  await expect(page.getByTestId("destination-disk")).toBeVisible();

  await page.goto(serverPath);
  await page.getByRole("button", { name: "Back up now" }).click();
  await page.getByRole("form", { name: "Back up now" }).getByRole("button", { name: "Start backup" }).click();
  await expect(page.getByTestId("backup-status")).toHaveText("Succeeded", { timeout: 90_000 });
  await expect(page.getByTestId("encrypted-indicator")).toBeVisible();

  const downloading = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download" }).click();
  const file = path.join(work, "backup.tar.gz");
  await (await downloading).saveAs(file);
  const restored = path.join(work, "restored");
  execFileSync("mkdir", ["-p", restored]);
  execFileSync("tar", ["xzf", file, "-C", restored]);
  expect(readFileSync(path.join(restored, "postgres/shop.sql"), "utf8")).toContain("kept-in-a-coffer");
});

test("/api/ready turns unready while the database is away and ready again when it is back; /api/health stays up", async () => {
  test.setTimeout(90_000);
  const ready = async () => {
    const res = await fetch(`${baseURL}/api/ready`);
    return {
      status: res.status,
      body: (await res.json()) as { status: string; checks: Record<string, { ok: boolean }> },
    };
  };
  const first = await ready();
  expect(first).toEqual({
    status: 200,
    body: {
      status: "ready",
      checks: { database: { ok: true }, migrations: { ok: true }, masterKeys: { ok: true }, workflows: { ok: true } },
    },
  });

  await pg.halt();
  await expect(async () => {
    const r = await ready();
    expect(r.status).toBe(503);
    expect(r.body.checks.database).toEqual({ ok: false, message: "the database does not answer" });
  }).toPass({ timeout: 15_000 });
  expect((await fetch(`${baseURL}/api/health`)).status).toBe(200);

  await pg.start();
  await expect(async () => {
    const r = await ready();
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("ready");
  }).toPass({ timeout: 15_000 });

  // Nothing secret in what anyone may ask, nor in the server's log.
  const text = JSON.stringify((await ready()).body) + output;
  for (const value of [...Object.values(secrets), pg.url("coffer"), secrets.MASTER_KEYS.split(":")[1]!])
    expect(text).not.toContain(value);
});

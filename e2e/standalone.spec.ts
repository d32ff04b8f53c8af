import { expect, test } from "@playwright/test";
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { startPgCluster, type PgCluster } from "../test/pg-cluster";
import { addLocalServer, addPostgresSource, password, signUp, uniqueEmail } from "./helpers";

// The standalone build run as the container image runs it (Dockerfile): .next/standalone and
// .next/static copied to a folder of their own (so nothing else of the checkout is needed),
// `node server.js` with the production variables and PostgreSQL. Two instances share the database
// and DATA_DIR behind Caddy with deploy/Caddyfile, as compose.yaml runs them (only their addresses
// changed). Ports are fixed like the other e2e servers' (the e2e lock keeps runs apart).
const ports = { first: 3219, second: 3220, proxy: 3221, internal: 3222 };
const baseURL = `http://127.0.0.1:${ports.proxy}`;
test.use({ baseURL });
test.describe.configure({ mode: "serial" });

let work: string;
const secrets = {
  MASTER_KEYS: `standalone-1:${randomBytes(32).toString("base64")}`,
  AUTH_SECRET: randomBytes(32).toString("hex"),
};
let pg: PgCluster;
const processes: ChildProcess[] = [];
let output = "";

function run(command: string, args: string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  processes.push(child);
  return child;
}

/** SIGTERM, then SIGKILL after 5 s (a Next.js server can take a minute to end on SIGTERM). */
async function stop(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM") {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

async function answers(url: string, child: ChildProcess) {
  await expect(async () => {
    expect(child.exitCode, output).toBeNull();
    expect((await fetch(url)).status).toBe(200);
  }).toPass({ timeout: 60_000 });
}

/** One app instance, started as the image starts it. */
function instance(app: string, port: number) {
  return run(process.execPath, ["--no-incremental-marking", "server.js"], {
    cwd: app,
    env: {
      PATH: process.env.PATH!,
      HOME: work,
      NODE_ENV: "production",
      NEXT_MANUAL_SIG_HANDLE: "true",
      HOSTNAME: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: path.join(work, "data"),
      DATABASE_URL: pg.url("coffer"),
      ...secrets,
      APP_URL: baseURL,
      TRUST_PROXY: "true",
      // This host is the backed-up server, reaching the test PostgreSQL on 127.0.0.1.
      ALLOW_LOCAL_SERVERS: "true",
      ALLOW_PRIVATE_NETWORKS: "true",
    },
  });
}

/** deploy/Caddyfile with the test's addresses for its two sites (`:3000`, `:3001`) and the two instances. */
function caddyfile(): string {
  const original = readFileSync(path.resolve("deploy/Caddyfile"), "utf8");
  const site = "\n:3000 {";
  const internal = "\n:3001 {";
  const upstreams = "reverse_proxy app-1:3000 app-2:3000 {";
  for (const text of [site, internal, upstreams]) expect(original).toContain(text);
  const file = path.join(work, "Caddyfile");
  writeFileSync(
    file,
    // No admin endpoint: it would listen on a fixed port.
    "{\n\tadmin off\n}\n" +
      original
        .replace(site, `\n:${ports.proxy} {`)
        .replace(internal, `\n:${ports.internal} {`)
        .replace(upstreams, `reverse_proxy 127.0.0.1:${ports.first} 127.0.0.1:${ports.second} {`),
  );
  return file;
}

let second: ChildProcess;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  work = mkdtempSync(path.join(tmpdir(), "coffer-standalone-"));
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

  // Started together: they migrate the empty database at the same time, taking turns.
  const first = instance(app, ports.first);
  second = instance(app, ports.second);
  await answers(`http://127.0.0.1:${ports.first}/api/ready`, first);
  await answers(`http://127.0.0.1:${ports.second}/api/ready`, second);
  const caddy = run("caddy", ["run", "--config", caddyfile(), "--adapter", "caddyfile"], {
    env: { PATH: process.env.PATH!, NODE_ENV: "production", HOME: work, XDG_DATA_HOME: work, XDG_CONFIG_HOME: work },
  });
  await answers(`${baseURL}/api/health`, caddy);
  // The Inngest server's address reaches the same instances.
  await answers(`http://127.0.0.1:${ports.internal}/api/health`, caddy);
});

test.afterAll(async () => {
  for (const child of processes.reverse()) await stop(child);
  await pg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test("behind the proxy, the instances sign people up and in, back up, and serve the download", async ({
  page,
  browser,
}) => {
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
  await page.getByRole("link", { name: "Download", exact: true }).click();
  const file = path.join(work, "backup.tar.gz");
  await (await downloading).saveAs(file);
  const restored = path.join(work, "restored");
  execFileSync("mkdir", ["-p", restored]);
  execFileSync("tar", ["xzf", file, "-C", restored]);
  expect(readFileSync(path.join(restored, "postgres/shop.sql"), "utf8")).toContain("kept-in-a-coffer");
});

test("/api/ready turns unready while the database is away and ready again when it is back; /api/health stays up; pages say so and come back", async ({
  page,
}) => {
  test.setTimeout(120_000);
  const team = await signUp(page, "Rita", uniqueEmail("rita"));
  const direct = `http://127.0.0.1:${ports.first}`;
  const ready = async () => {
    const res = await fetch(`${direct}/api/ready`);
    return {
      status: res.status,
      body: (await res.json()) as { status: string; checks: Record<string, { ok: boolean }> },
    };
  };
  expect(await ready()).toEqual({
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
  expect((await fetch(`${direct}/api/health`)).status).toBe(200);
  // A signed-in page (the session cookie holds for any port of the host) says what happened, with
  // the reference the instance logged the error under.
  const shown = await page.goto(`${direct}/${team}`);
  expect(shown?.status()).toBe(500);
  await expect(page.getByRole("heading", { name: "This page could not be shown" })).toBeVisible();
  const reference = (await page.getByTestId("error-reference").textContent())!;
  expect(reference).toMatch(/^\w+$/);
  await expect.poll(() => output).toContain(reference);
  // The proxy has taken both unready instances out of its rotation: it answers 503 itself, after
  // trying for its lb_try_duration (10 s).
  await expect(async () => expect((await fetch(`${baseURL}/api/health`)).status).toBe(503)).toPass({
    timeout: 40_000,
  });

  await pg.start();
  await expect(async () => {
    const r = await ready();
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("ready");
  }).toPass({ timeout: 15_000 });
  await page.getByRole("button", { name: "Try again" }).click();
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();

  // Nothing secret in what anyone may ask, nor in the servers' logs.
  const text = JSON.stringify((await ready()).body) + output;
  for (const value of [...Object.values(secrets), pg.url("coffer"), secrets.MASTER_KEYS.split(":")[1]!])
    expect(text).not.toContain(value);
});

test("when one instance dies, the proxy keeps answering with the other", async ({ page }) => {
  test.setTimeout(60_000);
  // Back in rotation once ready again (the proxy checks /api/ready every 5 s).
  await expect(async () => expect((await fetch(`${baseURL}/api/ready`)).status).toBe(200)).toPass({
    timeout: 20_000,
  });
  await stop(second, "SIGKILL");
  for (let i = 0; i < 10; i++) expect((await fetch(`${baseURL}/api/ready`)).status, `request ${i}`).toBe(200);
  await page.goto("/sign-in");
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
});

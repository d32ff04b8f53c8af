import { expect, test, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { startPgCluster, type PgCluster } from "../test/pg-cluster";
import {
  acceptAsNewUser,
  addLocalServer,
  addPostgresSource,
  invite,
  openSection,
  signUp,
  uniqueEmail,
} from "./helpers";

let pg: PgCluster;
let admin: postgres.Sql;
const work = mkdtempSync(path.join(tmpdir(), "coffer-e2e-backups-"));
// What a restore must give back exactly: every row, in a digest.
const digestSql = "select count(*) || ':' || md5(string_agg(id || '/' || label, ',' order by id)) from items";

test.beforeAll(async () => {
  pg = await startPgCluster();
  admin = postgres(pg.url("postgres"), { max: 1, onnotice: () => {} });
  await admin`create database shop`;
  const shop = postgres(pg.url("shop"), { max: 1, onnotice: () => {} });
  // Large enough (about 60 MB of SQL) that the run is seen in progress.
  await shop.unsafe(
    "create table items (id int primary key, label text); insert into items select g, md5(g::text) || repeat('x', 24) from generate_series(1, 1000000) g;",
  );
  await shop.end();
});
test.afterAll(async () => {
  await admin?.end();
  await pg?.stop();
});

const psql = (db: string, sql: string) =>
  execFileSync("psql", [
    "-X",
    "-q",
    "-A",
    "-t",
    "-v",
    "ON_ERROR_STOP=1",
    "-h",
    "127.0.0.1",
    "-p",
    String(pg.port),
    "-U",
    "postgres",
    "-d",
    db,
    "-c",
    sql,
  ])
    .toString()
    .trim();

/** This host as a server with the shop database as a source, and a local-disk destination. */
async function prepare(page: Page, team: string) {
  const serverPath = await addLocalServer(page, team, "db-host");
  await addPostgresSource(page, { name: "shop-db", port: pg.port, database: "shop" });
  await page.goto(`/${team}/storage`);
  await page.getByLabel("Name").fill("disk");
  await page.getByRole("button", { name: "Add destination" }).click();
  await expect(page.getByTestId("destination-disk")).toBeVisible();
  return serverPath;
}

/** Saves a download and loads its SQL into a new database; returns that database's digest of the rows. */
function restoreDigest(file: string, name: string) {
  const dir = mkdtempSync(path.join(work, "x-"));
  execFileSync("tar", ["xzf", file, "-C", dir]);
  psql("postgres", `create database ${name}`);
  execFileSync(
    "psql",
    [
      "-X",
      "-q",
      "-v",
      "ON_ERROR_STOP=1",
      "-h",
      "127.0.0.1",
      "-p",
      String(pg.port),
      "-U",
      "postgres",
      "-d",
      name,
      "-f",
      path.join(dir, "postgres", "shop.sql"),
    ],
    { stdio: "pipe" },
  );
  return psql(name, digestSql);
}

test("back up now (encrypted) → progress → download → the SQL restores exactly the rows; a flipped byte fails the download", async ({
  page,
  browser,
  playwright,
}) => {
  test.setTimeout(240_000);
  const team = await signUp(page, "Bea", uniqueEmail("bea"));
  const serverPath = await prepare(page, team);
  await page.goto(serverPath);
  await page.getByRole("button", { name: "Back up now" }).click();
  const form = page.getByRole("form", { name: "Back up now" });
  await expect(form.getByLabel("Encrypted")).toBeChecked();
  await expect(form.getByLabel("Compression")).toHaveValue("fast");
  await form.getByLabel("Compression").selectOption("balanced");
  await form.getByRole("button", { name: "Start backup" }).click();
  await expect(page.getByRole("heading", { name: "Backup of db-host" })).toBeVisible();
  await expect(page.getByTestId("backup-progress")).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId("backup-status")).toHaveText("Succeeded", { timeout: 120_000 });
  // This host has igzip (npm test installs isal): balanced is igzip -3, as the archive's manifest records.
  await expect(page.getByTestId("backup-compression")).toHaveText("Balanced (igzip -3)");
  await expect(page.getByTestId("encrypted-indicator")).toBeVisible();
  await expect(page.getByTestId("backup-log")).toContainText("Succeeded:");
  await page.getByRole("link", { name: "Restore or verify" }).click();
  await expect(page.getByTestId("restore-contents").locator("tbody tr")).toContainText(["shop"]);
  await expect(page.getByTestId("restore-contents").locator("tbody tr td").nth(3)).toHaveText("1000000");
  await page.getByRole("link", { name: "Back to the backup" }).click();

  const downloading = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download", exact: true }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(/^db-host-\d{8}-\d{6}\.tar\.gz$/);
  const file = path.join(work, "backup.tar.gz");
  await download.saveAs(file);
  expect(readFileSync(file).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b])); // the plain .tar.gz
  expect(restoreDigest(file, "restored_now")).toBe(psql("shop", digestSql));

  // The list shows it, encrypted, with where it is stored.
  await page.goto(`/${team}/backups`);
  const row = page.getByTestId("backups-table").locator("tbody tr").first();
  await expect(row).toContainText("Succeeded");
  await expect(row).toContainText("Encrypted");
  await expect(row).toContainText("disk");

  // The downloaded file uploaded again, as a backup of the same server: stored, encrypted, downloadable.
  await openSection(page, "Upload a backup");
  await page.getByLabel("Archive (.tar.gz)").setInputFiles(file);
  await page.getByRole("form", { name: "Upload a backup" }).getByRole("button", { name: "Upload" }).click();
  await expect(page.getByTestId("backup-status")).toHaveText("Succeeded", { timeout: 60_000 });
  await expect(page.getByText("Upload by ")).toBeVisible();
  await expect(page.getByTestId("encrypted-indicator")).toBeVisible();
  await page.goto(`/${team}/backups`);

  // Who may download: members and above of this team only.
  const runPath = (await page.getByTestId("backups-table").locator("tbody tr a").first().getAttribute("href"))!;
  const backupPath = `/api/teams/${team}/backups/${runPath.split("/").pop()}/download`;
  const anonymous = await playwright.request.newContext({ baseURL: test.info().project.use.baseURL });
  expect((await anonymous.get(backupPath)).status()).toBe(401);
  // Workflows run in-process here: nobody can invoke them over HTTP.
  expect((await anonymous.put("/api/inngest")).status()).toBe(404);
  expect((await anonymous.post("/api/inngest?fnId=coffer-run-backup&stepId=step", { data: {} })).status()).toBe(404);
  const viewerEmail = uniqueEmail("vic");
  const viewer = await acceptAsNewUser(browser, await invite(page, team, viewerEmail, "Viewer"), "Vic", viewerEmail);
  expect((await viewer.context.request.get(backupPath)).status()).toBe(403);
  const outsider = await browser.newContext();
  await signUp(await outsider.newPage(), "Otto", uniqueEmail("otto"));
  expect((await outsider.request.get(backupPath)).status()).toBe(404);
  await Promise.all([anonymous.dispose(), viewer.context.close(), outsider.close()]);

  // One flipped byte in the stored object: the browser reports a failed download.
  const objectName = runPath.split("/").pop()!;
  const stored = findFile(path.resolve(".data/e2e/storage"), (name) => name.includes(objectName));
  const bytes = readFileSync(stored);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x40;
  writeFileSync(stored, bytes);
  await page.goto(runPath);
  const failing = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download", exact: true }).click();
  expect(await (await failing).failure()).not.toBeNull();
});

test("a schedule due in the next minute runs by itself and its backup restores the rows", async ({ page }) => {
  test.setTimeout(240_000);
  const team = await signUp(page, "Sid", uniqueEmail("sid"));
  await prepare(page, team);
  await page.goto(`/${team}/schedules`);
  await page.getByLabel("Schedule name").fill("every-minute");
  await page.getByLabel("shop-db", { exact: true }).check();
  await page.getByLabel("disk", { exact: true }).check();
  await page.getByLabel("Runs").selectOption("cron");
  await page.getByLabel("Cron expression").fill("* * * * *");
  await page.getByRole("button", { name: "Create schedule" }).click();
  await expect(page.getByTestId("schedule-every-minute")).toBeVisible();

  // Nothing to click: the in-process tick starts it within a minute or two.
  await page.goto(`/${team}/backups`);
  const row = page
    .getByTestId("backups-table")
    .locator("tbody tr")
    .filter({ hasText: "Schedule: every-minute" })
    .first();
  await expect(async () => {
    await page.reload();
    await expect(row).toContainText("Succeeded", { timeout: 1_000 });
  }).toPass({ timeout: 200_000, intervals: [5_000] });
  await row.getByRole("link").click();
  await expect(page.getByTestId("encrypted-indicator")).toBeVisible();
  const downloading = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download", exact: true }).click();
  const file = path.join(work, "scheduled.tar.gz");
  await (await downloading).saveAs(file);
  expect(restoreDigest(file, "restored_scheduled")).toBe(psql("shop", digestSql));

  // Paused, it runs no more.
  await page.goto(`/${team}/schedules`);
  await page.getByTestId("schedule-every-minute").getByRole("button", { name: "Pause" }).click();
  await expect(page.getByTestId("schedule-every-minute")).toContainText("Paused");
});

function findFile(dir: string, match: (name: string) => boolean): string {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) {
      try {
        return findFile(full, match);
      } catch {
        continue;
      }
    }
    if (match(name)) return full;
  }
  throw new Error(`no file matching in ${dir}`);
}

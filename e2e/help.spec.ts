import { expect, test, type Page } from "@playwright/test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { startPgCluster, type PgCluster } from "../test/pg-cluster";
import {
  addDirectorySource,
  addDiskDestination,
  addLocalServer,
  addPostgresSource,
  openSection,
  signUp,
  uniqueEmail,
} from "./helpers";

// The help articles name buttons and fields; this walks each article beside the page it explains
// and checks those controls are there, so the help cannot drift from the screens unnoticed.

let pg: PgCluster;
const folder = mkdtempSync(path.join(tmpdir(), "coffer-e2e-help-"));

test.beforeAll(async () => {
  pg = await startPgCluster();
  const admin = postgres(pg.url("postgres"), { max: 1, onnotice: () => {} });
  await admin`create database shop`;
  await admin.end();
  const shop = postgres(pg.url("shop"), { max: 1, onnotice: () => {} });
  await shop`create table items (id int primary key)`;
  await shop`insert into items select generate_series(1, 10)`;
  await shop.end();
  writeFileSync(path.join(folder, "index.html"), "<h1>hello</h1>");
});
test.afterAll(() => pg?.stop());

/** Follows a page's help link and checks the article it opens. */
async function followHelp(page: Page, link: string, title: string) {
  const back = page.url();
  await page.getByRole("link", { name: link }).click();
  await expect(page).toHaveURL(/\/help\/[a-z-]+$/);
  await expect(page.getByRole("heading", { level: 1, name: title })).toBeVisible();
  await page.goto(back);
}

test("help: every article opens from the index and from the page it explains, and names controls that exist", async ({
  page,
}) => {
  test.setTimeout(180_000);
  await page.goto("/help");
  const titles = [
    "Encrypted backups",
    "Create an on-demand backup",
    "Configure backup schedules",
    "Upload and download backups",
    "Restore and verify backups",
  ];
  for (const title of titles) {
    await page.getByRole("link", { name: title }).click();
    await expect(page.getByRole("heading", { level: 1, name: title })).toBeVisible();
    await page.goBack();
  }
  expect((await page.request.get("/help/no-such-article")).status()).toBe(404);

  const team = await signUp(page, "Hal", uniqueEmail("hal"));
  await page.getByRole("link", { name: "Help", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Help" })).toBeVisible();
  const serverPath = await addLocalServer(page, team, "web1");
  await addPostgresSource(page, { name: "shop-db", port: pg.port, database: "shop" });
  await addDirectorySource(page, "site", folder);
  await addDiskDestination(page, team);

  // Create an on-demand backup: Sources, Destinations, Compression, Encrypted, Start backup.
  await page.goto(serverPath);
  await followHelp(page, "How Back up now works", "Create an on-demand backup");
  await page.getByRole("button", { name: "Back up now" }).click();
  const form = page.getByRole("form", { name: "Back up now" });
  for (const legend of ["Sources", "Destinations"]) await expect(form.getByText(legend, { exact: true })).toBeVisible();
  await expect(form.getByLabel("Compression")).toBeVisible();
  await expect(form.getByLabel("Encrypted")).toBeChecked();
  await expect(form.getByLabel(/Verify it when it is done/)).not.toBeChecked();
  await form.getByRole("button", { name: "Start backup" }).click();
  await expect(page.getByTestId("backup-status")).toHaveText("Succeeded", { timeout: 120_000 });
  // Not ticked, so not verified, and the page says why.
  await expect(page.getByTestId("verified-indicator")).toHaveText("Not verified");
  await expect(page.getByTestId("not-verified-reason")).toHaveText(/^Verify was not chosen when it was started/);

  // Upload and download: Download on the backup's page.
  await followHelp(page, "How downloads work", "Upload and download backups");
  await expect(page.getByRole("link", { name: "Download", exact: true })).toBeVisible();

  // Restore and verify: the three sections the article walks through.
  await page.getByRole("link", { name: "Restore or verify" }).click();
  await expect(page).toHaveURL(/\/restore$/);
  await followHelp(page, "How restores and verification work", "Restore and verify backups");
  for (const heading of ["Restore a database", "Restore folders", "Verify"])
    await expect(page.getByRole("heading", { level: 2, name: heading, exact: true })).toBeVisible();
  await expect(page.getByRole("button", { name: "Verify now" })).toBeVisible();
  await expect(page.getByRole("radio", { name: /^Replace an existing database/ })).toBeVisible();

  // Encryption and uploads, from the Backups list: the Encrypted badge, Upload a backup.
  await page.goto(`/${team}/backups`);
  await expect(page.getByTestId("backups-table").getByText("Encrypted: Coffer key", { exact: true })).toBeVisible();
  await followHelp(page, "How backups are encrypted", "Encrypted backups");
  await openSection(page, "Upload a backup");
  await expect(page.getByLabel("Backup of server")).toBeVisible();
  await followHelp(page, "How uploads and downloads work", "Upload and download backups");

  // Configure backup schedules: the fields in the order the article names them.
  await page.goto(`/${team}/schedules`);
  await followHelp(page, "How schedules and retention work", "Configure backup schedules");
  await openSection(page, "New schedule");
  for (const label of ["Schedule name", "Server", "Runs", "Time zone"])
    await expect(page.getByLabel(label, { exact: true })).toBeVisible();
  await expect(page.getByLabel(/Verify each backup/)).toBeChecked();
  await expect(page.getByRole("button", { name: "Create schedule" })).toBeVisible();
});

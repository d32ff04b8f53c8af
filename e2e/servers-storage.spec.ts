import { expect, test } from "@playwright/test";
import postgres from "postgres";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startPgCluster, type PgCluster } from "../test/pg-cluster";
import { startS3rver, type S3rverServer } from "../test/servers/s3rver";
import { addPostgresSource, openSection, signUp, uniqueEmail } from "./helpers";

let pg: PgCluster;
let s3: S3rverServer;
const dbPassword = "pg-secret-Zq81";

test.beforeAll(async () => {
  [pg, s3] = await Promise.all([startPgCluster(), startS3rver()]);
  const admin = postgres(pg.url("postgres"), { max: 1, onnotice: () => {} });
  await admin`create database shop`;
  await admin.unsafe(`alter user postgres password '${dbPassword}'`);
  await admin.end();
});
test.afterAll(async () => {
  await Promise.all([pg?.stop(), s3?.stop()]);
});

test("add this host with a database and directories, local and S3 storage; test them all; no secret in the page", async ({
  page,
}) => {
  const team = await signUp(page, "Sam", uniqueEmail("sam"));
  await page.goto(`/${team}/servers`);
  await expect(page.getByText("No servers yet")).toBeVisible();
  await page.getByRole("link", { name: "Add server" }).click();
  await page.getByLabel("This Coffer host").check();
  await page.getByLabel("Name").fill("coffer-host");
  await page.getByRole("button", { name: "Add server" }).click();
  await expect(page.getByRole("heading", { name: "coffer-host" })).toBeVisible();
  const serverUrl = new URL(page.url()).pathname;
  await page.getByRole("button", { name: "Test connection" }).click();
  await expect(page.getByTestId("check-facts")).toContainText("tools");
  await expect(page.getByText(/^Connected as /)).toBeVisible();

  // A PostgreSQL source: the password goes in once and is never shown again.
  await addPostgresSource(page, { name: "shop-db", port: pg.port, database: "shop", password: dbPassword });
  const shop = page.getByTestId("source-shop-db");
  await shop.getByRole("button", { name: "Test" }).click();
  await expect(shop).toContainText("Readable: shop");

  // Every database on that PostgreSQL: the Test lists what a backup would take now.
  await openSection(page, "Add a source");
  await page.getByLabel("Every database on this PostgreSQL").check();
  await page.getByLabel("Source name").fill("all-dbs");
  await page.getByLabel("Database host").fill("127.0.0.1");
  await page.getByLabel("Port", { exact: true }).fill(String(pg.port));
  await expect(page.getByLabel("Maintenance database")).toHaveValue("postgres");
  await page.getByLabel("Database user").fill("postgres");
  await page.getByLabel("Database password").fill(dbPassword);
  await page.getByLabel("Databases to leave out").fill("no_such_db");
  await page.getByRole("button", { name: "Add source" }).click();
  const all = page.getByTestId("source-all-dbs");
  await expect(all).toContainText("Every database except no_such_db, with roles and tablespaces");
  await all.getByRole("button", { name: "Test" }).click();
  await expect(all).toContainText("Readable: postgres, shop on PostgreSQL");
  // The page refreshes once the Test has ended: the form below is used after that.
  await expect(all.getByRole("button", { name: "Test" })).toBeEnabled();

  // A directory source, and a wrong path reported as such.
  const dir = mkdtempSync(path.join(tmpdir(), "coffer-e2e-"));
  writeFileSync(path.join(dir, "app.conf"), "x=1\n");
  await openSection(page, "Add a source");
  await page.getByLabel("Directories").check();
  await page.getByLabel("Source name").fill("configs");
  await page.getByLabel("Paths").fill(`${dir}\n/definitely/not/here`);
  await page.getByRole("button", { name: "Add source" }).click();
  const configs = page.getByTestId("source-configs");
  await configs.getByRole("button", { name: "Test" }).click();
  await expect(configs).toContainText("/definitely/not/here does not exist");

  // Storage: this host's disk, and S3 (s3rver).
  await page.goto(`/${team}/storage`);
  await page.getByLabel("Name").fill("local-disk");
  await page.getByLabel("Folder").fill("nightly");
  await page.getByRole("button", { name: "Add destination" }).click();
  const local = page.getByTestId("destination-local-disk");
  await local.getByRole("button", { name: "Test" }).click();
  await expect(local).toContainText("Wrote, read back, verified and deleted a probe object");

  await openSection(page, "Add a destination");
  await page.getByLabel("Kind").selectOption("s3");
  await page.getByLabel("Name").fill("offsite");
  await page.getByLabel("Bucket").fill(s3.bucket);
  await page.getByLabel("Region").fill(s3.region);
  await page.getByLabel("Endpoint (S3-compatible only)").fill(s3.endpoint);
  await expect(page.getByLabel(/Path-style URLs/)).toBeChecked(); // the default with an endpoint
  await page.getByLabel("Access key ID").fill(s3.accessKeyId);
  await page.getByLabel("Secret access key").fill(s3.secretAccessKey);
  await page.getByRole("button", { name: "Add destination" }).click();
  const offsite = page.getByTestId("destination-offsite");
  await expect(offsite).toContainText("daily STANDARD · weekly STANDARD_IA · monthly GLACIER");
  await offsite.getByRole("button", { name: "Test" }).click();
  await expect(offsite).toContainText("Wrote, read back, verified and deleted a probe object");
  await offsite.getByRole("button", { name: "Edit" }).click();
  await expect(offsite.getByTestId("secretAccessKey-set")).toBeVisible();

  // The listings, and no secret anywhere in what the server sent.
  await page.goto(`/${team}/servers`);
  await expect(page.getByTestId("servers")).toContainText("coffer-host");
  for (const url of [`/${team}/servers`, `/${team}/storage`, serverUrl]) {
    const html = await (await page.context().request.get(url)).text();
    expect(html).not.toContain(dbPassword);
    expect(html).not.toContain(s3.secretAccessKey + '"');
  }
});

import { expect, test, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import postgres from "postgres";
import { startPgCluster, type PgCluster } from "../test/pg-cluster";
import { addLocalServer, addPostgresSource, signUp, uniqueEmail } from "./helpers";

let pg: PgCluster;
let admin: postgres.Sql;
const digestSql = "select count(*) || ':' || md5(string_agg(id || '/' || label, ',' order by id)) from orders";

test.beforeAll(async () => {
  pg = await startPgCluster();
  admin = postgres(pg.url("postgres"), { max: 1, onnotice: () => {} });
  await admin`create database orders`;
  const c = postgres(pg.url("orders"), { max: 1, onnotice: () => {} });
  await c.unsafe(
    "create table orders (id int primary key, label text); insert into orders select g, 'order ' || g from generate_series(1, 20000) g;",
  );
  await c.end();
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

/** The restore or verification whose row says `what`, on the restore page, once it finished. */
async function job(page: Page, what: string, status: "Succeeded" | "Failed") {
  const row = page.getByTestId("restore-history").locator("tbody tr", { hasText: what });
  await expect(row.getByTestId("backup-status")).toHaveText(status, { timeout: 90_000 });
  return row;
}

test("back up → verify → verified indicator → restore into a new database → replacing needs the typed name and keeps a safety backup", async ({
  page,
}) => {
  test.setTimeout(240_000);
  const team = await signUp(page, "Rita", uniqueEmail("rita"));
  const serverPath = await addLocalServer(page, team, "db-host");
  await addPostgresSource(page, { name: "orders-db", port: pg.port, database: "orders" });
  await page.goto(`/${team}/storage`);
  await page.getByLabel("Name").fill("disk");
  await page.getByRole("button", { name: "Add destination" }).click();
  await expect(page.getByTestId("destination-disk")).toBeVisible();
  const original = psql("orders", digestSql);

  await page.goto(serverPath);
  await page.getByRole("button", { name: "Back up now" }).click();
  await page.getByRole("form", { name: "Back up now" }).getByRole("button", { name: "Start backup" }).click();
  await expect(page.getByTestId("backup-status")).toHaveText("Succeeded", { timeout: 90_000 });

  // What is inside, then Verify now: the backup is restored into a scratch database and counted.
  await page.getByRole("link", { name: "Restore or verify" }).click();
  await expect(page.getByTestId("restore-contents")).toContainText("orders");
  await expect(page.getByTestId("restore-contents").locator("tbody tr td").nth(3)).toHaveText("20000");
  await page.getByRole("form", { name: "Verify now" }).getByRole("button", { name: "Verify now" }).click();
  const verification = await job(page, "Verification", "Succeeded");
  await expect(verification).toContainText(
    "1 table counted, 1 file in the archive checked against the manifest: all match.",
  );
  await expect(page.getByTestId("verified-indicator")).toContainText("Verified");
  expect(psql("postgres", "select count(*) from pg_database where datname like 'coffer_verify_%'")).toBe("0");
  await page.getByRole("link", { name: "Back to the backup" }).click();
  await expect(page.getByTestId("verified-indicator")).toContainText("Verified");
  await expect(page.getByTestId("verification-summary")).toContainText(
    "1 table counted, 1 file in the archive checked against the manifest — all match.",
  );
  await page.goto(`/${team}/backups`);
  await expect(
    page.getByTestId("backups-table").locator("tbody tr").first().getByTestId("verified-indicator"),
  ).toContainText("Verified");
  await page.getByTestId("backups-table").locator("tbody tr a").first().click();
  await page.getByRole("link", { name: "Restore or verify" }).click();

  // Into a new database: the default.
  const restore = page.getByRole("form", { name: "Restore a database" });
  await expect(restore.getByLabel("New database name")).toHaveValue("orders_restored");
  await restore.getByRole("button", { name: "Restore database" }).click();
  const restored = await job(page, "orders_restored on db-host (new)", "Succeeded");
  expect(psql("orders_restored", digestSql)).toBe(original);
  // What was restored, how long it took, and where: not just "Done."
  await expect(restored.getByTestId("restore-summary")).toContainText(
    /^Restored database orders_restored on db-host: 1 table, 20,000 rows in (\d+(\.\d)? s|\d+ min \d\d s)\./,
  );
  await restored.getByText("Rows per table").click();
  await expect(restored.getByTestId("restored-tables")).toHaveText("public.orders20,000 rows");
  await expect(restored.getByTestId("restore-target-link")).toHaveAttribute("href", serverPath);

  // The source changes; replacing it with the backup needs its name typed again.
  psql("orders", "delete from orders where id > 5000");
  await restore.getByLabel("Replace an existing database").check();
  await restore.getByLabel("Database to replace").fill("orders");
  await restore.getByLabel("Type the database name again to confirm").fill("order");
  await restore.getByRole("button", { name: "Replace database" }).click();
  await expect(restore.getByTestId("form-error")).toHaveText(
    "Type the database name orders to confirm that it will be replaced.",
  );
  await restore.getByLabel("Type the database name again to confirm").fill("orders");
  await restore.getByRole("button", { name: "Replace database" }).click();
  const replaced = await job(page, "orders on db-host (replaced)", "Succeeded");
  expect(psql("orders", digestSql)).toBe(original);
  // Once started, the form is cleared: back to a new database, the replace no longer armed.
  await expect(restore.getByLabel("A new database")).toBeChecked();
  await expect(restore.getByLabel("Type the database name again to confirm")).toHaveCount(0);
  await expect(replaced.getByTestId("restore-summary")).toContainText(
    "Restored database orders on db-host: 1 table, 20,000 rows",
  );

  // The safety backup holds the changed database.
  const safety = replaced.getByTestId("safety-backup-link");
  const safetyUrl = await safety.getAttribute("href");
  await safety.click();
  await page.waitForURL((url) => url.pathname === safetyUrl);
  await expect(page.getByTestId("backup-status")).toHaveText("Succeeded");
  await expect(page.getByText("Before a restore")).toBeVisible();
  await page.getByRole("link", { name: "Restore or verify" }).click();
  await expect(page.getByTestId("restore-contents").locator("tbody tr td").nth(3)).toHaveText("5000");
});

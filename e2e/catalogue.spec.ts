import { expect, test } from "@playwright/test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { addLocalServer, openSection, signUp, uniqueEmail } from "./helpers";

// Scan for backups through the page: the scan streams into the table, a backup already in the
// catalogue says so; only the team's admins may scan.
test("Scan for backups lists the team's backup in a destination, already in the catalogue", async ({
  page,
  browser,
  playwright,
}) => {
  test.setTimeout(180_000);
  const team = await signUp(page, "Cat", uniqueEmail("cat"));
  const serverPath = await addLocalServer(page, team, "files-host");
  const dir = mkdtempSync(path.join(tmpdir(), "coffer-e2e-scan-"));
  writeFileSync(path.join(dir, "app.conf"), "x=1\n");
  await openSection(page, "Add a source");
  await page.getByLabel("Directories").check();
  await page.getByLabel("Source name").fill("configs");
  await page.getByLabel("Paths").fill(dir);
  await page.getByRole("button", { name: "Add source" }).click();
  await page.goto(`/${team}/storage`);
  await page.getByLabel("Name").fill("disk");
  await page.getByRole("button", { name: "Add destination" }).click();
  const disk = page.getByTestId("destination-disk");
  await expect(disk).toBeVisible();

  await page.goto(serverPath);
  await page.getByRole("button", { name: "Back up now" }).click();
  await page.getByRole("form", { name: "Back up now" }).getByRole("button", { name: "Start backup" }).click();
  await expect(page.getByTestId("backup-status")).toHaveText("Succeeded", { timeout: 120_000 });
  const backupId = new URL(page.url()).pathname.split("/").pop()!;

  await page.goto(`/${team}/storage`);
  await disk.getByRole("button", { name: "Scan for backups" }).click();
  await disk.getByRole("button", { name: "Scan", exact: true }).click();
  await expect(disk.getByTestId("scan-progress")).toHaveText(/^Scanned 1 object listed, 1 named like a backup\.$/);
  const row = disk.locator("tbody tr").filter({ hasText: backupId });
  await expect(row).toContainText("files-host · configs");
  await expect(row).toContainText("Already here");

  // The scan route: anonymous 401, another team 404.
  const url = `/api/teams/${team}/storage/${await destinationId(page, team)}/scan`;
  const headers = { Origin: new URL(test.info().project.use.baseURL!).origin };
  const anonymous = await playwright.request.newContext({ baseURL: test.info().project.use.baseURL });
  expect((await anonymous.post(url, { data: {}, headers })).status()).toBe(401);
  const outsider = await browser.newContext();
  await signUp(await outsider.newPage(), "Oscar", uniqueEmail("oscar"));
  expect((await outsider.request.post(url, { data: {}, headers })).status()).toBe(404);
  await anonymous.dispose();
  await outsider.close();
});

/** The destination's id, from the scan request the page makes. */
async function destinationId(page: import("@playwright/test").Page, team: string) {
  const request = page.waitForRequest((r) => r.url().includes(`/api/teams/${team}/storage/`));
  await page.getByTestId("destination-disk").getByRole("button", { name: "Scan", exact: true }).click();
  return (await request).url().split("/storage/")[1]!.split("/")[0]!;
}

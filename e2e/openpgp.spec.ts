import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gnupgHome } from "../test/gnupg";
import { addDirectorySource, addDiskDestination, addLocalServer, openSection, signUp, uniqueEmail } from "./helpers";

const work = mkdtempSync(path.join(tmpdir(), "coffer-e2e-openpgp-"));
const gpg = gnupgHome();
test.afterAll(() => {
  gpg.cleanup();
  rmSync(work, { recursive: true, force: true });
});

test("OpenPGP: add a team key, switch a schedule to it, back up now; the list says which encryption each backup uses, and gpg alone opens it", async ({
  page,
}) => {
  test.setTimeout(180_000);
  const fingerprint = gpg.genKey("Ops <ops@example.test>");
  const folder = path.join(work, "site");
  mkdirSync(folder);
  writeFileSync(path.join(folder, "index.html"), "<h1>portable</h1>");

  const team = await signUp(page, "Pia", uniqueEmail("pia"));
  await page.goto(`/${team}/settings`);
  await page.getByLabel("Public key").fill(gpg.exportPublic(fingerprint));
  await page.getByRole("button", { name: "Add key" }).click();
  await expect(page.getByTestId("openpgp-key")).toContainText(fingerprint);

  const serverPath = await addLocalServer(page, team, "web1");
  await addDirectorySource(page, "site", folder);
  await addDiskDestination(page, team);

  // One backup in Coffer's own format first, from the server page (the default).
  await page.goto(serverPath);
  await page.getByRole("button", { name: "Back up now" }).click();
  const now = page.getByRole("form", { name: "Back up now" });
  await expect(now.locator('select[name="encryption"]')).toHaveValue("coffer");
  await now.getByRole("button", { name: "Start backup" }).click();
  await expect(page.getByTestId("backup-status")).toHaveText("Succeeded", { timeout: 60_000 });

  // A schedule switched to OpenPGP; its Back up now follows it.
  await page.goto(`/${team}/schedules`);
  await openSection(page, "New schedule");
  await page.getByLabel("Schedule name").fill("nightly");
  await page.getByLabel("site", { exact: true }).check();
  await page.getByLabel("disk", { exact: true }).check();
  await page.getByRole("button", { name: "Create schedule" }).click();
  const card = page.getByTestId("schedule-nightly");
  await expect(card).toBeVisible();
  await card.getByRole("button", { name: "Edit" }).click();
  // By name: the New schedule form's select, still on the page, has the same label.
  await card.locator('select[name="encryption"]').selectOption("openpgp");
  await card.getByRole("button", { name: "Save schedule" }).click();
  // The badge, not the editor's option of the same words: the saved schedule is on the page.
  await expect(card.locator(".badge", { hasText: "Encrypted: OpenPGP: team keys" })).toBeVisible();
  await card.getByRole("button", { name: "Back up now" }).click();
  const fromSchedule = page.getByRole("form", { name: "Back up now" });
  await expect(fromSchedule.locator('select[name="encryption"]')).toHaveValue("openpgp");
  await fromSchedule.getByRole("button", { name: "Start backup" }).click();
  await expect(page.getByTestId("backup-status")).toHaveText("Succeeded", { timeout: 60_000 });

  // The stored object, as a team member downloads it, opens with gpg and the team's private key.
  const object = await page.request.get(
    (await page.getByRole("link", { name: "Download .gpg" }).getAttribute("href"))!,
  );
  expect(object.status()).toBe(200);
  const file = path.join(work, "backup.tar.gz.gpg");
  writeFileSync(file, await object.body());
  const opened = gpg.decrypt(file);
  expect(opened.status).toBe(0);
  const listing = execFileSync("tar", ["tzf", "-"], { input: opened.stdout }).toString();
  expect(listing).toContain(`files${folder}/index.html`);

  await page.goto(`/${team}/backups`);
  const rows = page.getByTestId("backups-table").locator("tbody tr");
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0)).toContainText("Encrypted: OpenPGP: team keys");
  await expect(rows.nth(1)).toContainText("Encrypted: Coffer key");
});

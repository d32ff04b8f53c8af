import { expect, test, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { addDirectorySource, addDiskDestination, addLocalServer, openSection, signUp, uniqueEmail } from "./helpers";

// A reader far from UTC: every date is shown in their zone, UTC on hover.
test.use({ timezoneId: "Asia/Tokyo" });

const work = mkdtempSync(path.join(tmpdir(), "coffer-words-"));
const tokyo = { hour: "2-digit", minute: "2-digit", timeZoneName: "short", timeZone: "Asia/Tokyo" } as const;
const inTokyo = (d: Date) =>
  new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", ...tokyo }).format(d);
/** A log line's time: the time alone, with seconds. */
const timeInTokyo = (d: Date) => new Intl.DateTimeFormat("en-GB", { ...tokyo, second: "2-digit" }).format(d);

/** Every <time> on the page reads in Tokyo time (the date and time, or a log line's time) and says UTC on hover. */
async function expectLocalTimes(page: Page) {
  const times = page.locator("main time");
  await expect(times.first()).toBeVisible();
  for (const time of await times.all()) {
    const at = new Date((await time.getAttribute("datetime"))!);
    const either = [inTokyo(at), timeInTokyo(at)].map((t) => t.replace(/[+.]/g, "\\$&")).join("|");
    await expect(time).toHaveText(new RegExp(`^(${either})$`)); // once hydrated: UTC until then
    await expect(time).toHaveAttribute("title", / UTC$/);
  }
}

/** No "(s)" counts anywhere on the page. */
const expectNoParenthesisedPlurals = async (page: Page) =>
  expect(await page.locator("main").innerText()).not.toMatch(/\w\(s\)/);

test("sizes, counts and dates read the same everywhere; a folder restore says what it restored and where", async ({
  page,
}) => {
  test.setTimeout(180_000);
  const team = await signUp(page, "Wendy", uniqueEmail("wendy"));
  const folder = path.join(work, "site");
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, "index.html"), "<h1>hello</h1>\n".repeat(20));
  const serverPath = await addLocalServer(page, team, "web-host");
  await addDirectorySource(page, "site", folder);
  await addDiskDestination(page, team);

  await page.goto(serverPath);
  await page.getByRole("button", { name: "Back up now" }).click();
  await page.getByRole("form", { name: "Back up now" }).getByRole("button", { name: "Start backup" }).click();
  await expect(page.getByTestId("backup-status")).toHaveText("Succeeded", { timeout: 90_000 });
  await expectLocalTimes(page);
  await expectNoParenthesisedPlurals(page);

  // The Overview: counts in words, the last success in the reader's zone, no workflow-engine jargon.
  await page.goto(`/${team}`);
  await expect(page.locator("main")).toContainText("1 registered, 1 source");
  await expect(page.locator("main")).toContainText("Storage: 1 destination");
  await expect(page.locator("main")).not.toContainText("Inngest");
  await expectLocalTimes(page);
  await expectNoParenthesisedPlurals(page);

  // The list: the same date format, a small size in KiB or bytes (not "0.0 GiB").
  await page.goto(`/${team}/backups`);
  const row = page.getByTestId("backups-table").locator("tbody tr").first();
  await expect(row.locator("td").nth(4)).toHaveText(/^(\d+ bytes|\d+\.\d KiB)$/);
  await expectLocalTimes(page);
  await expectNoParenthesisedPlurals(page);

  // Restore the folder: the summary says what and where, and the form is cleared.
  await row.locator("a").first().click();
  await page.getByRole("link", { name: "Restore or verify" }).click();
  await expect(page.getByTestId("restore-contents")).toContainText(`Folder ${folder} (site): 1 file, 300 bytes`);
  const target = path.join(work, "restored");
  const form = page.getByRole("form", { name: "Restore folders" });
  await form.getByLabel("Restore under").fill(target);
  await form.getByRole("button", { name: "Restore folders" }).click();
  const restored = page.getByTestId("restore-history").locator("tbody tr").first();
  await expect(restored.getByTestId("backup-status")).toHaveText("Succeeded", { timeout: 60_000 });
  await expect(restored.getByTestId("restore-summary")).toHaveText(
    new RegExp(`^Restored 1 file \\(300 bytes\\) to ${target} on web-host in (\\d+(\\.\\d)? s|\\d+ min \\d\\d s)\\.$`),
  );
  await expect(restored.getByTestId("restore-target-link")).toHaveAttribute("href", serverPath);
  await expect(form.getByLabel("Restore under")).toHaveValue("");
  await expectLocalTimes(page);
  await expectNoParenthesisedPlurals(page);
});

test("an upload keeps its file name and the archive's own date; a failed one says why in plain words, shows in the list at once and can be removed", async ({
  page,
}) => {
  test.setTimeout(120_000);
  const team = await signUp(page, "Uma", uniqueEmail("uma"));
  await addLocalServer(page, team, "old-host");
  await addDiskDestination(page, team);
  const src = path.join(work, "upload-src");
  mkdirSync(src, { recursive: true });
  writeFileSync(path.join(src, "notes.txt"), "kept\n");
  const made = new Date("2024-03-05T10:20:30Z");
  utimesSync(path.join(src, "notes.txt"), made, made);
  const archive = path.join(work, "old-site-backup.tar.gz");
  execFileSync("tar", ["czf", archive, "-C", src, "notes.txt"]);

  await page.goto(`/${team}/backups`);
  await openSection(page, "Upload a backup");
  await page.getByLabel("Archive (.tar.gz)").setInputFiles(archive);
  await page.getByRole("form", { name: "Upload a backup" }).getByRole("button", { name: "Upload" }).click();
  await expect(page.getByTestId("backup-status")).toHaveText("Succeeded", { timeout: 60_000 });
  await expect(page.getByTestId("uploaded-name")).toHaveText("old-site-backup.tar.gz");
  await expect(page.getByTestId("archived-at")).toHaveText(inTokyo(made)); // 5 Mar 2024, 19:20 GMT+9
  await page.goto(`/${team}/backups`);
  await expect(page.getByTestId("backups-table")).toContainText("Upload: old-site-backup.tar.gz");

  // A file that is not gzip: plain words (not zlib's "incorrect header check"), and its row at once.
  const broken = path.join(work, "broken.tar.gz");
  writeFileSync(broken, "PK\u0003\u0004 this is a zip file, not a tar.gz\n".repeat(50));
  await openSection(page, "Upload a backup");
  await page.getByLabel("Archive (.tar.gz)").setInputFiles(broken);
  await page.getByRole("form", { name: "Upload a backup" }).getByRole("button", { name: "Upload" }).click();
  const alert = page.getByRole("form", { name: "Upload a backup" }).getByRole("alert");
  await expect(alert).toHaveText(
    "The file is not a valid .tar.gz: it is not gzip-compressed data, or that data is damaged (a different format, or changed since it was made). Upload the archive as it was made, without changes.",
  );
  const failed = page.getByTestId("backups-table").locator("tbody tr", { hasText: "Upload: broken.tar.gz" });
  await expect(failed.getByTestId("backup-status")).toHaveText("Failed"); // no reload
  await failed.getByRole("button", { name: "Remove this failed upload" }).click();
  await expect(failed).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId("backups-table")).not.toContainText("broken.tar.gz");
  await expect(page.getByTestId("backups-table")).toContainText("Upload: old-site-backup.tar.gz");
});

import { expect, test } from "@playwright/test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startPgCluster, type PgCluster } from "../test/pg-cluster";
import {
  acceptAsNewUser,
  addDirectorySource,
  addDiskDestination,
  addLocalServer,
  addPostgresSource,
  invite,
  openSection,
  password,
  signUp,
  uniqueEmail,
} from "./helpers";

let pg: PgCluster;
const dbPassword = "pg-right-Kx52";

test.beforeAll(async () => {
  pg = await startPgCluster({ password: dbPassword });
});
test.afterAll(async () => {
  await pg?.stop();
});

test("settings are checked at save: a folder leaving its root is refused, a wrong password is kept and shown failed until fixed", async ({
  page,
}) => {
  const team = await signUp(page, "Flo", uniqueEmail("flo"));
  const serverUrl = await addLocalServer(page, team, "host1");
  // Tested on save: the server page and the list say so without anyone pressing Test.
  await expect(page.getByText(/^Connected as /)).toBeVisible();
  await page.goto(`/${team}/servers`);
  await expect(page.getByTestId("servers").getByText("OK", { exact: true })).toBeVisible();

  await page.goto(serverUrl);
  await addPostgresSource(page, { name: "main-db", port: pg.port, database: "postgres", password: "wrong-pw" });
  const source = page.getByTestId("source-main-db");
  await expect(source.getByText("Failed", { exact: true })).toBeVisible();
  await expect(source).toContainText(
    `PostgreSQL at 127.0.0.1:${pg.port} refused user postgres: check the user name and password.`,
  );
  await page.reload(); // stored on the source, not only in the form
  await expect(source.getByText("Failed", { exact: true })).toBeVisible();
  await source.getByRole("button", { name: "Edit" }).click();
  await source.getByRole("button", { name: "Replace" }).click();
  await source.locator("input[name=pgPassword]").fill(dbPassword);
  await source.getByRole("button", { name: "Save source" }).click();
  await expect(source.getByText("OK", { exact: true })).toBeVisible();
  await expect(source).toContainText("Readable: postgres");
  // A bad entry of a list field is named under that field.
  await openSection(page, "Add a source");
  await page.getByLabel("Directories").check();
  await page.getByLabel("Source name").fill("site");
  await page.getByLabel("Paths").fill("/srv/app\nvar/www");
  await page.getByRole("button", { name: "Add source" }).click();
  await expect(page.getByText("Entry 2: Use an absolute path (starting with /), on one line.")).toBeVisible();
  await expect(page.getByLabel("Paths")).toHaveValue("/srv/app\nvar/www");

  await page.goto(`/${team}/storage`);
  await page.getByLabel("Name").fill("escape");
  await page.getByLabel("Folder").fill("../escape");
  await page.getByRole("button", { name: "Add destination" }).click();
  await expect(page.getByTestId("form-error")).toHaveText('Invalid prefix "../escape": ".." segments are not allowed.');
  await expect(page.getByText('".." segments are not allowed.', { exact: true })).toBeVisible();
  await expect(page.getByTestId("destination-escape")).toHaveCount(0);
  // A save that never reaches Coffer (a dropped connection, a restart) says so and keeps what was typed.
  await page.route(`**/${team}/storage`, (route) =>
    route.request().method() === "POST" ? route.abort("connectionreset") : route.continue(),
  );
  await page.getByLabel("Folder").fill("nightly");
  await page.getByRole("button", { name: "Add destination" }).click();
  await expect(page.getByTestId("form-error")).toHaveText(/^Coffer did not answer/);
  await expect(page.getByLabel("Name")).toHaveValue("escape");
  await expect(page.getByLabel("Folder")).toHaveValue("nightly");
  await page.unroute(`**/${team}/storage`);
  await page.getByRole("button", { name: "Add destination" }).click();
  const disk = page.getByTestId("destination-escape");
  await expect(disk.getByText("OK", { exact: true })).toBeVisible();
  await expect(disk).toContainText("Wrote, read back, verified and deleted a probe object");
});

test.describe("the schedule form", () => {
  test.use({ timezoneId: "Asia/Tokyo", viewport: { width: 1366, height: 900 } });

  test("starts from the browser's time zone and the only source and destination; the editor takes the page's width", async ({
    page,
  }) => {
    const team = await signUp(page, "Tao", uniqueEmail("tao"));
    await addLocalServer(page, team, "app1");
    await addDirectorySource(page, "etc", "/etc");
    await addDiskDestination(page, team);

    // The server renders UTC (it cannot know the browser's zone); the page then picks the browser's.
    const html = await (await page.context().request.get(`/${team}/schedules`)).text();
    expect(html).toMatch(/<option selected="">UTC<\/option>/);
    await page.goto(`/${team}/schedules`);
    await expect(page.locator("select[name=timezone]")).toHaveValue("Asia/Tokyo");
    await expect(page.getByLabel("etc", { exact: true })).toBeChecked();
    await expect(page.getByLabel("disk", { exact: true })).toBeChecked();
    await page.getByLabel("Schedule name").fill("nightly");
    await page.getByRole("button", { name: "Create schedule" }).click();
    const card = page.getByTestId("schedule-nightly");
    await expect(card).toContainText("Daily at 02:00 (Asia/Tokyo) · app1");
    await expect(card).toContainText("Backs up etc to disk.");

    const grid = card.locator("xpath=..");
    const before = (await card.boundingBox())!.width;
    const full = (await grid.boundingBox())!.width;
    expect(before).toBeLessThan(full * 0.6); // cards sit two abreast
    await card.getByRole("button", { name: "Edit" }).click();
    await expect(card.getByRole("button", { name: "Save schedule" })).toBeVisible();
    expect((await card.boundingBox())!.width).toBeCloseTo(full, 0);
    await expect(card.locator("select[name=timezone]")).toHaveValue("Asia/Tokyo");

    // With two destinations, none is chosen for the user.
    await page.goto(`/${team}/storage`);
    await openSection(page, "Add a destination");
    await page.getByLabel("Name").fill("disk2");
    await page.getByRole("button", { name: "Add destination" }).click();
    await expect(page.getByTestId("destination-disk2")).toBeVisible();
    await page.goto(`/${team}/schedules`);
    await page.locator("summary", { hasText: "New schedule" }).click();
    const form = page.locator("details").filter({ hasText: "New schedule" });
    await expect(form.getByLabel("etc", { exact: true })).toBeChecked();
    await expect(form.getByLabel("disk", { exact: true })).not.toBeChecked();
    await expect(form.getByLabel("disk2", { exact: true })).not.toBeChecked();
  });
});

test("no dead ends: Back up now without storage, the price note, settings tabs by role, the account's devices and password, copying an invitation", async ({
  browser,
  page,
}) => {
  test.setTimeout(180_000);
  const email = uniqueEmail("dee");
  const team = await signUp(page, "Dee", email);
  const serverUrl = await addLocalServer(page, team, "box");
  const dir = mkdtempSync(path.join(tmpdir(), "coffer-e2e-forms-"));
  writeFileSync(path.join(dir, "notes.txt"), "hello\n");
  await addDirectorySource(page, "notes", dir);

  // No destination yet: the form says where to add one, and cannot be started.
  await page.getByRole("button", { name: "Back up now" }).click();
  const form = page.getByRole("form", { name: "Back up now" });
  await expect(form.getByRole("button", { name: "Start backup" })).toBeDisabled();
  await form.getByRole("link", { name: "Add a storage destination" }).click();
  await expect(page).toHaveURL(`/${team}/storage`);
  await page.getByLabel("Name").fill("disk");
  await page.getByRole("button", { name: "Add destination" }).click();
  await expect(page.getByTestId("destination-disk")).toBeVisible();

  await page.goto(serverUrl);
  await page.getByRole("button", { name: "Back up now" }).click();
  await expect(form.getByRole("button", { name: "Start backup" })).toBeEnabled();
  await form.getByRole("button", { name: "Start backup" }).click();
  await expect(page.getByTestId("backup-status")).toHaveText("Succeeded", { timeout: 90_000 });
  // Only this host's disk: no promise of price overrides it has no form for.
  await page.goto(`/${team}/storage`);
  const usage = page.getByTestId("storage-usage");
  await expect(usage).toContainText("this host's disk and server directories count as free.");
  await expect(usage).not.toContainText("Override");

  // The invitation link copies with one click.
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  const viewerEmail = uniqueEmail("vic");
  const link = await invite(page, team, viewerEmail, "Viewer");
  await page.getByRole("button", { name: "Copy link" }).click();
  await expect(page.getByRole("button", { name: "Copied" })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);

  // A viewer sees only the settings tabs they can open; the others still refuse.
  const viewer = await acceptAsNewUser(browser, link, "Vic", viewerEmail);
  await viewer.page.goto(`/${team}/settings`);
  const tabs = viewer.page.getByRole("navigation", { name: "Settings" });
  await expect(tabs.getByRole("link")).toHaveText(["General", "Members"]);
  await viewer.page.goto(`/${team}/settings/audit`);
  await expect(viewer.page.getByRole("heading", { name: "Not allowed" })).toBeVisible();
  await viewer.page.goto(`/${team}/settings/api-tokens`);
  await expect(viewer.page.getByRole("heading", { name: "Not allowed" })).toBeVisible();
  await page.goto(`/${team}/settings`);
  await expect(page.getByRole("navigation", { name: "Settings" }).getByRole("link")).toHaveText([
    "General",
    "Members",
    "API tokens",
    "Audit log",
  ]);
  await viewer.context.close();
  // The default retention's own fields show what the server refused.
  const defaults = page.getByRole("form", { name: "Default retention" });
  await defaults.getByLabel("Days").fill("5000");
  await defaults.getByRole("button", { name: "Save retention" }).click();
  await expect(defaults.getByText("Use at most 1000.", { exact: true })).toBeVisible();
  await expect(defaults.getByLabel("Days")).toHaveAttribute("aria-invalid", "true");

  // A second device of Dee's, to be signed out by the password change.
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await otherPage.goto("/sign-in");
  await otherPage.getByLabel("E-mail").fill(email);
  await otherPage.getByLabel("Password").fill(password);
  await otherPage.getByRole("button", { name: "Sign in" }).click();
  await expect(otherPage.getByRole("heading", { name: "Overview" })).toBeVisible();

  await page.goto("/account");
  const ua = await page.evaluate(() => navigator.userAgent);
  const devices = page.getByTestId("sessions");
  const here = devices.getByText(/^Headless Chrome \d+ on Linux$/).first();
  await expect(here).toBeVisible();
  await expect(devices.locator(`[title="${ua}"]`).first()).toBeVisible();
  await expect(devices).not.toContainText("Mozilla/5.0");

  const box = page.getByTestId("change-password");
  await box.getByLabel("Current password").fill("not my password");
  await box.getByLabel("New password").fill("a brand new passphrase");
  await box.getByRole("button", { name: "Change password" }).click();
  await expect(box.getByTestId("form-error")).toHaveText("That is not your current password.");
  await box.getByLabel("Current password").fill(password);
  await box.getByRole("button", { name: "Change password" }).click();
  await expect(box.getByRole("status")).toHaveText("Password changed. Signed out 1 other device.");
  await expect(box.getByLabel("Current password")).toHaveValue("");

  // The other device is out; this one stays in; the new password signs in; the change is audited.
  await otherPage.goto(`/${team}`);
  await expect(otherPage).toHaveURL(/\/sign-in/);
  await otherPage.getByLabel("E-mail").fill(email);
  await otherPage.getByLabel("Password").fill("a brand new passphrase");
  await otherPage.getByRole("button", { name: "Sign in" }).click();
  await expect(otherPage.getByRole("heading", { name: "Overview" })).toBeVisible();
  await other.close();
  await page.goto(`/${team}/settings/audit?action=account.password_changed`);
  await expect(page.getByTestId("audit-events")).toContainText("account.password_changed");
});

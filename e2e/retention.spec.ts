import { expect, test, type Page } from "@playwright/test";
import { readdirSync } from "node:fs";
import path from "node:path";
import { formatBytes } from "@/lib/format";
import { selectRetention } from "@/lib/retention/select";
import { retentionFixture as f } from "./seed/retention-fixture";

// Runs against the retention server (playwright.config.ts), whose seed gave schedule "nightly"
// 40 days of succeeded backups (one a day, each a real object on the local-disk destination) and
// a policy that keeps all of them.
test.use({ baseURL: f.baseURL, timezoneId: "UTC" }); // the list shows times in the reader's zone

/** The backups list's "Started" column, as the page writes it (UTC). */
const startedText = (d: Date) =>
  new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }).format(d) + " UTC";
const months = Array.from({ length: 12 }, (_, m) =>
  new Intl.DateTimeFormat("en-GB", { month: "short", timeZone: "UTC" }).format(Date.UTC(2026, m, 1)),
);
/** Back from the list's text to the instant ("14 Oct 2026, 17:29 UTC"). */
const startedAt = (text: string) => {
  const m = /^(\d{1,2}) (\S+) (\d{4}), (\d{2}):(\d{2}) UTC$/.exec(text);
  if (!m || !months.includes(m[2]!)) throw new Error(`Not a start time: ${text}`);
  return new Date(Date.UTC(+m[3]!, months.indexOf(m[2]!), +m[1]!, +m[4]!, +m[5]!));
};
/** A backup's file name (`app1-20261110-182900.tar.gz`, UTC) → when it started. */
const fileNameTime = (name: string) => {
  const m = /-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})\.tar\.gz$/.exec(name);
  if (!m) throw new Error(`Not a backup file name: ${name}`);
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
};

interface Row {
  started: string;
  status: string;
  size: string;
  storedIn: string;
}

/** Every row of the backups list (all 40 fit its first page). */
async function backupRows(page: Page, team: string): Promise<Row[]> {
  await page.goto(`/${team}/backups`);
  const rows = page.getByTestId("backups-table").locator("tbody tr");
  await expect(rows.first()).toBeVisible();
  await expect(page.getByRole("link", { name: "Older backups" })).toHaveCount(0);
  return rows.evaluateAll((trs) =>
    trs.map((tr) => {
      const cells = [...tr.querySelectorAll("td")].map(
        (td) => td.querySelector("[data-testid=backup-status]")?.textContent ?? td.textContent!.trim(),
      );
      return { started: cells[0]!, status: cells[2]!, size: cells[4]!, storedIn: cells[6]! };
    }),
  );
}

/** "812 bytes" → 812 (every seeded backup is under 1 KiB, so the list shows exact bytes). */
const bytesOf = (size: string) => {
  const m = /^(\d+) bytes$/.exec(size);
  if (!m) throw new Error(`Not an exact size: ${size}`);
  return Number(m[1]);
};

/** The objects in the local-disk destination's folder (`storage/<team id>/<server id>/…`). */
function storedObjects(): string[] {
  const root = path.join(f.dataDir, "storage");
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);
}

/** The usage table's line for the disk destination: [destination, class, objects, stored, …]. */
async function usageLine(page: Page, team: string) {
  await page.goto(`/${team}/storage`);
  const usage = page.getByTestId("storage-usage");
  await expect(usage).toBeVisible();
  const line = usage
    .locator("tbody tr")
    .filter({ has: page.locator("td", { hasText: new RegExp(`^${f.destination}$`) }) });
  await expect(line).toHaveCount(1);
  const cells = await line.locator("td").allTextContents();
  const total = await usage.locator("tbody tr").last().locator("td").nth(1).textContent();
  return { objects: Number(cells[2]), stored: cells[3], total };
}

test("a short policy over 40 days of backups: the preview says what expires, saving applies it, the list, usage and disk agree", async ({
  page,
}) => {
  test.setTimeout(180_000);
  await page.goto("/sign-in");
  await page.getByLabel("E-mail").fill(f.email);
  await page.getByLabel("Password").fill(f.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  const team = new URL(page.url()).pathname.split("/")[1]!;

  // Before: 40 succeeded backups, one a day, all stored; usage and the disk count all 40.
  const before = await backupRows(page, team);
  expect(before).toHaveLength(f.backups);
  expect(before.every((r) => r.status === "Succeeded" && r.storedIn === f.destination)).toBe(true);
  const sizeOf = new Map(before.map((r) => [r.started, bytesOf(r.size)]));
  expect(sizeOf.size).toBe(f.backups);
  const allBytes = [...sizeOf.values()].reduce((a, b) => a + b, 0);
  expect(await usageLine(page, team)).toEqual({
    objects: f.backups,
    stored: formatBytes(allBytes),
    total: formatBytes(allBytes),
  });
  expect(storedObjects()).toHaveLength(f.backups);

  // A short policy, previewed before anything is saved.
  await page.goto(`/${team}/schedules`);
  const card = page.getByTestId(`schedule-${f.schedule}`);
  await expect(card.getByTestId("schedule-keeps")).toHaveText("Retention: keeps every backup until it is deleted.");
  await card.getByRole("button", { name: "Edit" }).click();
  const fields = card.getByTestId("retention-fields");
  await fields.getByLabel("Keep every backup until it is deleted").uncheck();
  const policy = { keepAll: false, last: 0, daily: 3, weekly: 3, monthly: 2, yearly: 0 };
  await fields.getByLabel("Keep the last (backups)").fill(String(policy.last));
  await fields.getByLabel("Days").fill(String(policy.daily));
  await fields.getByLabel("Weeks").fill(String(policy.weekly));
  await fields.getByLabel("Months").fill(String(policy.monthly));
  await fields.getByLabel("Years").fill(String(policy.yearly));
  await fields.getByRole("button", { name: "Preview" }).click();
  const preview = fields.getByTestId("retention-preview");
  await expect(preview).toContainText(`of ${f.backups} backups`);
  const listed = await preview.locator("li").allTextContents();
  const expiring = new Set(listed.map((name) => startedText(fileNameTime(name))));
  await expect(preview).toContainText(`This policy would expire ${listed.length} of ${f.backups} backups`);
  expect(expiring.size).toBe(listed.length);
  for (const started of expiring) expect(sizeOf.has(started)).toBe(true); // each one a backup of the list

  // What the preview says is the grandfather–father–son selection in the schedule's time zone:
  // the newest of each of the last 3 days, 3 ISO weeks and 2 months.
  const candidates = before.map((r) => ({ id: r.started, at: startedAt(r.started), succeeded: true }));
  const expected = selectRetention(candidates, policy, f.timeZone)
    .filter((d) => !d.keep)
    .map((d) => d.id);
  expect([...expiring].sort()).toEqual(expected.sort());
  const kept = before.map((r) => r.started).filter((s) => !expiring.has(s));
  expect(kept.length).toBeGreaterThanOrEqual(4); // the weekly and monthly rules keep older ones too
  expect(kept.length).toBeLessThanOrEqual(policy.daily + policy.weekly + policy.monthly);

  // Saving applies it (the apply-retention workflow runs in the server's own process): what no rule
  // keeps goes to the trash, where its copy stays for the team's grace period (7 days by default).
  await card.getByRole("button", { name: "Save schedule" }).click();
  await expect(card.getByTestId("schedule-keeps")).toHaveText(/^Retention: keeps the last 3 days, 3 weeks, 2 months/);
  await expect
    .poll(async () => (await backupRows(page, team)).filter((r) => r.status === "In the trash").length, {
      timeout: 60_000,
      intervals: [500, 1_000, 2_000],
    })
    .toBe(expiring.size);

  // The list: exactly the previewed backups are in the trash, every copy still stored.
  const after = await backupRows(page, team);
  expect(after).toHaveLength(f.backups);
  for (const r of after)
    expect(r, r.started).toMatchObject({
      status: expiring.has(r.started) ? "In the trash" : "Succeeded",
      storedIn: f.destination,
      size: `${sizeOf.get(r.started)} bytes`,
    });

  // The Trash page lists exactly those; nothing is deleted during the grace period, so usage and
  // the disk still hold every object (expiry after it is covered by lib/trash's tests).
  await page.goto(`/${team}/backups/trash`);
  await expect(page.locator('[data-testid^="trash-row-"]')).toHaveCount(expiring.size);
  await expect
    .poll(() => usageLine(page, team))
    .toEqual({ objects: f.backups, stored: formatBytes(allBytes), total: formatBytes(allBytes) });
  expect(storedObjects()).toHaveLength(f.backups);
});

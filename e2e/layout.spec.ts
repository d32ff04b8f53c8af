import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Browser, type Page } from "@playwright/test";
import path from "node:path";
import { retentionFixture as f } from "./seed/retention-fixture";

// Walks every main page as a phone (390×844) and a desktop (1366×900), light and dark, on the
// retention server (playwright.config.ts), whose seed gave its team a server, a source, a disk
// destination, a schedule and 40 days of backups: full tables and a month of the storage chart.
// Only reads: it signs in and looks. On each page it fails when something is wider than the
// screen, a table's last column is cut off without a scroll box, a navigation item is off screen,
// or axe finds a serious or critical accessibility violation; and it saves a screenshot to
// test-results/screens/<mode>/ for a reviewer.
test.use({ baseURL: f.baseURL });

const modes = [
  { name: "phone-light", viewport: { width: 390, height: 844 }, colorScheme: "light" },
  { name: "phone-dark", viewport: { width: 390, height: 844 }, colorScheme: "dark" },
  { name: "desktop-light", viewport: { width: 1366, height: 900 }, colorScheme: "light" },
  { name: "desktop-dark", viewport: { width: 1366, height: 900 }, colorScheme: "dark" },
] as const;

/** Signs Rita in once; every mode's browser starts from these cookies. */
let session: Awaited<ReturnType<Awaited<ReturnType<Browser["newContext"]>>["storageState"]>>;
let team: string;
/** The pages of the walk, by name: found once, through the links a user follows. */
let pages: [string, string][];

test.beforeAll(async ({ browser }) => {
  const context = await browser.newContext({ baseURL: f.baseURL });
  const page = await context.newPage();
  await page.goto("/sign-in");
  await page.getByLabel("E-mail").fill(f.email);
  await page.getByLabel("Password").fill(f.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  team = new URL(page.url()).pathname.split("/")[1]!;
  await page.goto(`/${team}/servers`);
  const server = await page.getByTestId("servers").getByRole("link", { name: f.server }).getAttribute("href");
  await page.goto(`/${team}/backups`);
  const backup = await page.getByTestId("backups-table").locator("tbody tr a").first().getAttribute("href");
  expect(server).toBeTruthy();
  expect(backup).toBeTruthy();
  session = await context.storageState();
  await context.close();
  pages = [
    ["overview", `/${team}`],
    ["servers", `/${team}/servers`],
    ["server", server!],
    ["backups", `/${team}/backups`],
    ["backup", backup!],
    ["restore", `${backup}/restore`],
    ["trash", `/${team}/backups/trash`],
    ["schedules", `/${team}/schedules`],
    ["storage", `/${team}/storage`],
    ["webhooks", `/${team}/webhooks`],
    ["settings", `/${team}/settings`],
    ["members", `/${team}/settings/members`],
    ["api-tokens", `/${team}/settings/api-tokens`],
    ["audit", `/${team}/settings/audit`],
    ["account", "/account"],
    ["help", "/help"],
    ["help-article", "/help/back-up-now"],
  ];
});

/**
 * What does not fit, in words (empty when the page is right): the page wider than the screen, an
 * element past its edges with no box of its own clipping it, a table whose last column is cut off
 * and not inside a scroll box (TableScroll), a table cell squeezed into a tall sliver, a navigation
 * link off screen.
 */
function layoutProblems(page: Page) {
  return page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const problems: string[] = [];
    const name = (el: Element) =>
      `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${el.getAttribute("data-testid") ? ` data-testid=${el.getAttribute("data-testid")}` : ""} class="${el.getAttribute("class") ?? ""}"> "${(el.textContent ?? "").trim().slice(0, 40)}"`;
    /** The nearest ancestor that does not let its content overflow sideways. */
    const clipper = (el: Element) => {
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement)
        if (getComputedStyle(a).overflowX !== "visible") return a;
      return null;
    };
    if (document.documentElement.scrollWidth > vw)
      problems.push(`the page is ${document.documentElement.scrollWidth}px wide on a ${vw}px screen`);
    for (const el of document.body.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || getComputedStyle(el).visibility === "hidden") continue;
      if ((r.right > vw + 1 || r.left < -1) && !clipper(el))
        problems.push(`${name(el)} spans ${Math.round(r.left)}–${Math.round(r.right)}px`);
    }
    for (const table of document.querySelectorAll("table")) {
      if (table.closest(".sr-only") || table.getBoundingClientRect().width === 0) continue;
      const row = table.tHead?.rows[0] ?? table.rows[0];
      const last = row?.cells[row.cells.length - 1];
      if (!last) continue;
      const box = clipper(table);
      const edge = Math.min(vw, box ? box.getBoundingClientRect().right : vw);
      for (const cell of table.querySelectorAll("td")) {
        const r = cell.getBoundingClientRect();
        if (r.width > 0 && r.height > 160 && r.height > 2 * r.width)
          problems.push(
            `${name(cell)} in ${name(table)} is squeezed to ${Math.round(r.width)}×${Math.round(r.height)}px`,
          );
      }
      if (last.getBoundingClientRect().right <= edge + 1) continue;
      if (!box?.matches(".scroll-shadows") || !["auto", "scroll"].includes(getComputedStyle(box).overflowX))
        problems.push(`${name(table)}: its last column "${last.textContent}" is cut off with no scroll box`);
    }
    for (const link of document.querySelectorAll("nav a")) {
      const r = link.getBoundingClientRect();
      if (r.width > 0 && (r.left < -1 || r.right > vw + 1))
        problems.push(
          `navigation link "${link.textContent}" is off screen (${Math.round(r.left)}–${Math.round(r.right)}px)`,
        );
    }
    return problems;
  });
}

for (const mode of modes) {
  test(`every main page fits and passes axe: ${mode.name}`, async ({ browser }, testInfo) => {
    test.setTimeout(240_000);
    const context = await browser.newContext({
      baseURL: f.baseURL,
      viewport: mode.viewport,
      colorScheme: mode.colorScheme,
      storageState: session,
    });
    const page = await context.newPage();
    const failures: string[] = [];
    for (const [label, url] of pages) {
      const response = await page.goto(url);
      expect(response?.status(), `${label} (${url})`).toBe(200);
      await expect(page.locator("h1").first()).toBeVisible();
      // The chart draws once it has measured its box.
      if (label === "overview" || label === "storage")
        await expect(page.getByTestId("stored-chart").locator(".recharts-bar-rectangle").first()).toBeVisible();
      await page.screenshot({
        path: path.join(testInfo.project.outputDir, "screens", mode.name, `${label}.png`),
        fullPage: true,
      });
      for (const p of await layoutProblems(page)) failures.push(`${label}: ${p}`);
      const axe = await new AxeBuilder({ page }).analyze();
      for (const v of axe.violations.filter((v) => v.impact === "serious" || v.impact === "critical"))
        failures.push(`${label}: axe ${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    }
    await context.close();
    expect(failures).toEqual([]);
  });
}

test("on a phone every table that is wider than the screen scrolls in its own box, and the navigation is all on screen", async ({
  browser,
}) => {
  const context = await browser.newContext({
    baseURL: f.baseURL,
    viewport: { width: 390, height: 844 },
    storageState: session,
  });
  const page = await context.newPage();
  await page.goto(`/${team}/backups`);
  // The backups table does not fit a phone: its box scrolls, and scrolling brings its last column into view.
  const box = page.getByRole("region", { name: "Backups" });
  const sizes = await box.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
  expect(sizes.scroll).toBeGreaterThan(sizes.client);
  const lastHeader = box.locator("thead th").last();
  await expect(lastHeader).not.toBeInViewport({ ratio: 1 });
  // It takes keyboard focus (so arrow keys scroll it); scrolled to its end, the last column shows.
  await box.focus();
  await expect(box).toBeFocused();
  await box.evaluate((el) => el.scrollTo({ left: el.scrollWidth }));
  await expect(lastHeader).toBeInViewport({ ratio: 0.99 }); // sub-pixel widths: 0.9997 when fully shown
  // Every item of the team navigation can be tapped without scrolling anything sideways.
  await page.evaluate(() => window.scrollTo(0, 0)); // focusing the table scrolled the page down to it
  for (const item of ["Overview", "Servers", "Backups", "Schedules", "Storage", "Webhooks", "Settings"])
    await expect(
      page.getByRole("navigation", { name: "Team" }).getByRole("link", { name: item, exact: true }),
    ).toBeInViewport({
      ratio: 1,
    });
  await context.close();
});

test("the storage chart names its axes and destination, shows a day's figure on hover and lists every day's figures", async ({
  browser,
}) => {
  const context = await browser.newContext({ baseURL: f.baseURL, storageState: session });
  const page = await context.newPage();
  await page.goto(`/${team}/storage`);
  const chart = page.getByTestId("stored-chart");
  await expect(chart.locator(".recharts-bar-rectangle").first()).toBeVisible();
  await expect(chart.locator(".recharts-label", { hasText: "Day (UTC)" })).toBeVisible();
  await expect(chart.locator(".recharts-label", { hasText: "Stored" })).toBeVisible();
  await expect(chart.locator(".recharts-legend-item-text")).toHaveText([f.destination]);
  // The figures table: one row per day, the last day's total as the caption's "now" says.
  const figures = page.getByTestId("stored-figures");
  await expect(figures.locator("tbody tr")).toHaveCount(30);
  const now = (await chart.locator("figcaption").textContent())!.match(/now (.+)$/)![1]!;
  const lastRow = figures.locator("tbody tr").last();
  await expect(lastRow.locator("td").last()).toHaveText(now);
  // Hovering the last bar shows that day and its figure for the destination.
  const lastDay = (await lastRow.locator("th").textContent())!;
  await chart.locator(".recharts-bar-rectangle").last().hover();
  const tooltip = chart.locator(".recharts-tooltip-wrapper");
  await expect(tooltip).toContainText(lastDay);
  await expect(tooltip).toContainText(`${f.destination}: ${now}`);
  await context.close();
});

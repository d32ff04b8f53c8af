import { expect, type Browser, type Page } from "@playwright/test";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { serverLog } from "./server-log";

export const password = "correct horse battery staple";
export const uniqueEmail = (name: string) => `${name.toLowerCase()}-${randomBytes(3).toString("hex")}@example.test`;

/** Signs up through the form; returns the new team's slug. */
export async function signUp(page: Page, name: string, email: string, teamName = `${name} Ops`) {
  await page.goto("/sign-up");
  await page.getByLabel("Your name").fill(name);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByLabel("Team name").fill(teamName);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  return new URL(page.url()).pathname.split("/")[1]!;
}

/** Invites through the members page and returns the link shown once. */
export async function invite(page: Page, team: string, email: string, role: "Admin" | "Member" | "Viewer") {
  await page.goto(`/${team}/settings/members`);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Role", { exact: true }).selectOption({ label: role });
  await page.getByRole("button", { name: "Invite" }).click();
  const link = page.getByTestId("invite-link");
  await expect(link).toBeVisible();
  return link.inputValue();
}

/**
 * Opens the e-mail verification link Coffer sent `email` and confirms it. The e2e servers have no
 * SMTP, so the link is in the server's log, where an operator without SMTP finds it too.
 */
export async function confirmEmail(page: Page, email: string) {
  let url: string | undefined;
  await expect
    .poll(() => {
      const lines = readFileSync(serverLog, "utf8")
        .split("\n")
        .filter((l) => l.includes("verify-email"));
      const entries = lines.map((l) => JSON.parse(l.slice(l.indexOf("{"))) as { email?: string; url?: string });
      url = entries.findLast((e) => e.email === email)?.url;
      return url;
    })
    .toBeTruthy();
  await page.goto(url!);
  await page.getByRole("button", { name: "Confirm e-mail address" }).click();
  await expect(page.getByTestId("email-confirmed")).toContainText(`${email} is confirmed.`);
}

/** A second person in their own browser: opens the link, creates an account, confirms the address, accepts. */
export async function acceptAsNewUser(browser: Browser, link: string, name: string, email: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(link);
  await page.getByRole("link", { name: "Create an account" }).click();
  await page.getByLabel("Your name").fill(name);
  await expect(page.getByLabel("E-mail")).toHaveValue(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  // Signed in and back on the invitation, which asks to confirm the address first.
  await expect(page).toHaveURL(link);
  await expect(page.getByRole("button", { name: "Send the link again" })).toBeVisible();
  await confirmEmail(page, email);
  await page.goto(link);
  await page.getByRole("button", { name: "Accept invitation" }).click();
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  return { context, page };
}

/** Adds this Coffer host as a server through the form; returns the server page's path. */
export async function addLocalServer(page: Page, team: string, name: string) {
  await page.goto(`/${team}/servers/new`);
  await page.getByLabel("This Coffer host").check();
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Add server" }).click();
  await expect(page.getByRole("heading", { name })).toBeVisible();
  return new URL(page.url()).pathname;
}

/** Opens a <details> section by its summary text, if it is not open already. */
export async function openSection(page: Page, summary: string) {
  const section = page.locator("details").filter({ has: page.locator("summary", { hasText: summary }) });
  if ((await section.getAttribute("open")) === null) await section.locator("summary").click();
}

/** Adds a PostgreSQL source on the open server page through the form. */
export async function addPostgresSource(
  page: Page,
  o: { name: string; port: number; database: string; password?: string },
) {
  await openSection(page, "Add a source");
  await page.getByLabel("Source name").fill(o.name);
  await page.getByLabel("Database host").fill("127.0.0.1");
  await page.getByLabel("Port", { exact: true }).fill(String(o.port));
  await page.getByLabel("Database", { exact: true }).fill(o.database);
  await page.getByLabel("Database user").fill("postgres");
  if (o.password) await page.getByLabel("Database password").fill(o.password);
  await page.getByRole("button", { name: "Add source" }).click();
  await expect(page.getByTestId(`source-${o.name}`)).toBeVisible();
}

/** Adds a directory source on the open server page through the form. */
export async function addDirectorySource(page: Page, name: string, paths: string) {
  await openSection(page, "Add a source");
  await page.getByLabel("Directories").check();
  await page.getByLabel("Source name").fill(name);
  await page.getByLabel("Paths").fill(paths);
  await page.getByRole("button", { name: "Add source" }).click();
  await expect(page.getByTestId(`source-${name}`)).toBeVisible();
}

/** Adds a destination on this host's disk (the Storage form's default kind). */
export async function addDiskDestination(page: Page, team: string, name = "disk") {
  await page.goto(`/${team}/storage`);
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Add destination" }).click();
  await expect(page.getByTestId(`destination-${name}`)).toBeVisible();
}

/** Creates an API token through Settings → API tokens and returns it, as shown that once. */
export async function createToken(page: Page, team: string, name: string, scopes: string[]) {
  await page.goto(`/${team}/settings/api-tokens`);
  await page.getByLabel("Name").fill(name);
  for (const scope of scopes) await page.getByLabel(new RegExp(`(^|\\s)${scope} — `)).check();
  await page.getByRole("button", { name: "Create token" }).click();
  const shown = page.getByTestId("new-token");
  await expect(shown).toBeVisible();
  return shown.inputValue();
}

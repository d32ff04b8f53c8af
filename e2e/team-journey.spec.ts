import { expect, test } from "@playwright/test";
import { acceptAsNewUser, invite, password, signUp, uniqueEmail } from "./helpers";

test("sign up, invite a colleague, change their role, remove them", async ({ page, browser }, testInfo) => {
  const ownerEmail = uniqueEmail("owner");
  const team = await signUp(page, "Olivia", ownerEmail, "Olivia Ops");
  await expect(page.getByTestId("team-switcher")).toContainText("Olivia Ops");
  await expect(page.getByTestId("member-count")).toHaveText("1");
  const shot = testInfo.outputPath("dashboard.png");
  await page.screenshot({ path: shot, fullPage: true });
  await testInfo.attach("dashboard", { path: shot, contentType: "image/png" });

  // Invite as member; they accept in their own browser.
  const memberEmail = uniqueEmail("mark");
  const link = await invite(page, team, memberEmail, "Member");
  await expect(page.getByTestId(`invitation-${memberEmail}`)).toBeVisible();
  const mark = await acceptAsNewUser(browser, link, "Mark", memberEmail);
  expect(new URL(mark.page.url()).pathname).toBe(`/${team}`);
  await expect(mark.page.getByTestId("team-switcher")).toContainText("Member");
  // A member sees the members but cannot invite or manage anyone.
  await mark.page.goto(`/${team}/settings/members`);
  await expect(mark.page.getByTestId(`member-${ownerEmail}`)).toBeVisible();
  await expect(mark.page.getByRole("button", { name: "Invite" })).toHaveCount(0);
  await expect(mark.page.getByRole("button", { name: "Remove" })).toHaveCount(0);

  // The owner makes them an admin: now they can invite and read the audit log.
  await page.goto(`/${team}/settings/members`);
  await expect(page.getByTestId(`invitation-${memberEmail}`)).toHaveCount(0);
  await page.getByLabel(`Role of ${memberEmail}`).selectOption("admin");
  await expect(page.getByLabel(`Role of ${memberEmail}`)).toHaveValue("admin");
  await mark.page.goto(`/${team}/settings/audit`);
  await expect(mark.page.getByTestId("audit-events")).toContainText("member.role_changed");
  await mark.page.goto(`/${team}/settings/members`);
  await expect(mark.page.getByRole("button", { name: "Invite" })).toBeVisible();
  // …but an admin cannot touch the owner.
  await expect(mark.page.getByLabel(`Role of ${ownerEmail}`)).toHaveCount(0);

  // Down to viewer: the audit log is closed to them (403) and settings are read-only.
  await page.getByLabel(`Role of ${memberEmail}`).selectOption("viewer");
  await expect(page.getByLabel(`Role of ${memberEmail}`)).toHaveValue("viewer");
  const audit = await mark.page.goto(`/${team}/settings/audit`);
  expect(audit?.status()).toBe(403);
  await expect(mark.page.getByRole("heading", { name: "Not allowed" })).toBeVisible();
  await mark.page.goto(`/${team}/settings`);
  await expect(mark.page.getByLabel("Name")).toBeDisabled();

  // Removed: the team is gone for them, exactly like a team that does not exist.
  page.on("dialog", (d) => d.accept());
  await page.getByTestId(`member-${memberEmail}`).getByRole("button", { name: "Remove" }).click();
  await expect(page.getByTestId(`member-${memberEmail}`)).toHaveCount(0);
  const gone = await mark.page.goto(`/${team}`);
  expect(gone?.status()).toBe(404);

  // The owner's audit log shows the whole story.
  await page.goto(`/${team}/settings/audit`);
  for (const action of [
    "team.created",
    "invitation.created",
    "invitation.accepted",
    "member.joined",
    "member.role_changed",
    "member.removed",
  ]) {
    await expect(page.getByTestId("audit-events")).toContainText(action);
  }
  await mark.context.close();
});

test("the last owner cannot leave; wrong passwords are refused and then slowed down, never locked out", async ({
  page,
}) => {
  const email = uniqueEmail("solo");
  const team = await signUp(page, "Solo", email);
  await page.goto(`/${team}/settings`);
  page.on("dialog", (d) => d.accept());
  await page.getByRole("button", { name: "Leave team" }).click();
  await expect(page.getByTestId("form-error")).toContainText("last owner");

  await page.context().clearCookies(); // another browser: not one that signed in before
  await page.goto("/sign-in");
  const attempt = async (pw: string) => {
    await page.getByLabel("E-mail").fill(email);
    await page.getByLabel("Password").fill(pw);
    await page.getByRole("button", { name: "Sign in" }).click();
    const error = page.getByTestId("form-error");
    await expect(error).toContainText(/do not match|Too many failed sign-ins/);
    return (await error.textContent()) ?? "";
  };
  const messages: string[] = [];
  for (let i = 0; i < 8 && !messages.at(-1)?.includes("Too many"); i++) messages.push(await attempt(`wrong-${i}`));
  expect(messages.slice(0, 3).every((m) => m.includes("do not match"))).toBe(true);
  const wait = /Too many failed sign-ins for this account: wait (\d+) seconds?, then try again/.exec(messages.at(-1)!);
  expect(wait).not.toBeNull();
  // Once the wait is over the right password works: a delay, not a lockout.
  await page.waitForTimeout(Number(wait![1]) * 1000 + 300);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  // The account page lists them.
  await page.goto("/account");
  await expect(page.getByTestId("failed-sign-ins")).toContainText("Wrong password");
});

test("sign out everywhere ends the other browsers' sessions too", async ({ page, browser }) => {
  const email = uniqueEmail("multi");
  const team = await signUp(page, "Multi", email);
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await otherPage.goto("/sign-in");
  await otherPage.getByLabel("E-mail").fill(email);
  await otherPage.getByLabel("Password").fill("correct horse battery staple");
  await otherPage.getByRole("button", { name: "Sign in" }).click();
  await expect(otherPage.getByRole("heading", { name: "Overview" })).toBeVisible();

  await page.goto("/account");
  await expect(page.getByTestId("sessions").locator("li")).toHaveCount(2);
  await page.getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(page).toHaveURL(/\/sign-in/);

  await otherPage.goto(`/${team}`);
  await expect(otherPage).toHaveURL(/\/sign-in/);
  await other.close();
});

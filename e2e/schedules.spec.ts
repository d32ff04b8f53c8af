import { expect, test } from "@playwright/test";
import { addDirectorySource, addDiskDestination, addLocalServer, signUp, uniqueEmail } from "./helpers";

test("a schedule: preset in a time zone, next runs shown, bad cron explained, pause and resume", async ({ page }) => {
  const team = await signUp(page, "Sid", uniqueEmail("sid"));
  await addLocalServer(page, team, "app1");
  await addDirectorySource(page, "etc", "/etc");
  await addDiskDestination(page, team);

  await page.goto(`/${team}/schedules`);
  await page.getByLabel("Schedule name").fill("nightly");
  await page.getByLabel("etc", { exact: true }).check();
  await page.getByLabel("disk", { exact: true }).check();
  await page.getByLabel("Runs").selectOption("cron");
  await page.getByLabel("Cron expression").fill("0 2 * *");
  await page.getByLabel("Time zone").selectOption("Europe/Berlin");
  await page.getByRole("button", { name: "Create schedule" }).click();
  await expect(page.getByText("Use five fields, e.g. 0 2 * * *.")).toBeVisible();

  await page.getByLabel("Runs").selectOption("daily");
  await page.getByLabel("At", { exact: true }).fill("02:30");
  await page.getByRole("button", { name: "Create schedule" }).click();
  const card = page.getByTestId("schedule-nightly");
  await expect(card).toContainText("Daily at 02:30 (Europe/Berlin) · app1");
  await expect(card).toContainText("Backs up etc to disk.");
  await expect(card).toContainText("Encrypted");
  await expect(card.getByText(/^Next: /)).toContainText("02:30");

  await card.getByRole("button", { name: "Pause" }).click();
  await expect(card).toContainText("Paused");
  await expect(card.getByText(/^Next: /)).toHaveCount(0);
  await card.getByRole("button", { name: "Resume" }).click();
  await expect(card.getByText(/^Next: /)).toBeVisible();
});

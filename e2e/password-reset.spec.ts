import { expect, test } from "@playwright/test";
import { loggedLink, password, signUp, uniqueEmail } from "./helpers";

test("forgot the password: the e-mailed link sets a new one and signs every session out", async ({ page, browser }) => {
  const email = uniqueEmail("gus");
  const team = await signUp(page, "Gus", email);

  // From another browser, signed out: the sign-in page leads to the reset.
  const context = await browser.newContext();
  const other = await context.newPage();
  await other.goto("/sign-in");
  await other.getByRole("link", { name: "Forgot your password?" }).click();
  await other.getByLabel("E-mail").fill(email);
  await other.getByRole("button", { name: "Send the link" }).click();
  await expect(other.getByTestId("reset-requested")).toContainText(`If an account has the address ${email}`);

  await other.goto(await loggedLink("/reset-password/", email));
  await other.getByLabel("New password").fill("short");
  await other.getByRole("button", { name: "Set the new password" }).click();
  await expect(other.getByText("Use at least 10 characters.")).toBeVisible();
  await other.getByLabel("New password").fill("a passphrase chosen anew");
  await other.getByRole("button", { name: "Set the new password" }).click();
  await expect(other.getByTestId("password-reset")).toContainText(`The password of ${email} is changed.`);

  // The first browser's session ended; the old password no longer works, the new one does.
  await page.goto(`/${team}`);
  await expect(page).toHaveURL(/\/sign-in/);
  await other.getByRole("link", { name: "Sign in" }).click();
  await other.getByLabel("E-mail").fill(email);
  await other.getByLabel("Password").fill(password);
  await other.getByRole("button", { name: "Sign in" }).click();
  await expect(other.getByTestId("form-error")).toHaveText("That e-mail and password do not match an account.");
  await other.getByLabel("Password").fill("a passphrase chosen anew");
  await other.getByRole("button", { name: "Sign in" }).click();
  await expect(other.getByRole("heading", { name: "Overview" })).toBeVisible();
  await context.close();
});

import { expect, test } from "@playwright/test";
import { signUp, uniqueEmail } from "./helpers";

// The e2e servers run in production without SMTP: there a reset link is never logged (anyone
// reading the logs could use it), so the page says so. lib/auth/password-reset.int.test.ts follows
// the link itself through a real SMTP server.
test("forgot the password: the sign-in page leads to the reset, which says what it cannot do", async ({
  page,
  browser,
}) => {
  const email = uniqueEmail("gus");
  await signUp(page, "Gus", email);

  const context = await browser.newContext();
  const other = await context.newPage();
  await other.goto("/sign-in");
  await other.getByRole("link", { name: "Forgot your password?" }).click();
  await expect(other.getByRole("heading", { name: "Reset your password" })).toBeVisible();
  await other.getByLabel("E-mail").fill(email);
  await other.getByRole("button", { name: "Send the link" }).click();
  await expect(other.getByTestId("form-error")).toHaveText(
    "This Coffer cannot send e-mail, so it cannot send you a reset link: ask whoever runs it.",
  );

  // A link that was changed (or used, or expired) is refused, with what to do.
  await other.goto(
    `/reset-password/usr_${"0".repeat(26)}.${Math.floor(Date.now() / 1000) + 600}.forged-mac-forged-mac`,
  );
  await other.getByLabel("New password").fill("short");
  await other.getByRole("button", { name: "Set the new password" }).click();
  await expect(other.getByText("Use at least 10 characters.")).toBeVisible();
  await other.getByLabel("New password").fill("a passphrase chosen anew");
  await other.getByRole("button", { name: "Set the new password" }).click();
  await expect(other.getByTestId("form-error")).toHaveText(
    "This reset link is not valid any more: it expired, was used, or the password was changed since. Ask for a new one.",
  );
  await context.close();
});

import { expect, test } from "@playwright/test";
import { signUp, uniqueEmail } from "./helpers";

test("pages run under a nonce-based Content-Security-Policy and other sites cannot post to Coffer's routes", async ({
  page,
  baseURL,
}) => {
  const violations: string[] = [];
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to (execute|load|apply)/i.test(m.text())) violations.push(m.text());
  });
  const response = await page.goto("/sign-in");
  const h = response!.headers();
  const csp = h["content-security-policy"] ?? "";
  expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]{16,}' 'strict-dynamic'/);
  expect(csp).toContain("frame-ancestors 'none'");
  expect(h["x-content-type-options"]).toBe("nosniff");
  expect(h["referrer-policy"]).toBe("strict-origin-when-cross-origin");
  expect(h["strict-transport-security"]).toBeUndefined(); // plain http here: HSTS only behind https
  // A fresh nonce per response.
  const again = (await page.request.get("/sign-in")).headers()["content-security-policy"];
  expect(again).not.toBe(csp);

  // The app works under the policy: hydrated forms, client-side navigation.
  const team = await signUp(page, "Cecile", uniqueEmail("cecile"));
  await page.getByRole("link", { name: "Backups" }).first().click();
  await expect(page.getByRole("heading", { name: "Backups" })).toBeVisible();
  expect(violations).toEqual([]);

  // Another site makes the signed-in browser post an upload: refused, nothing imported.
  const upload = `/api/teams/${team}/backups/upload?serverId=srv_00000000000000000000000000&encrypted=true`;
  const forged = await page.request.post(upload, {
    headers: { Origin: "https://evil.example", "Content-Type": "application/gzip" },
    data: Buffer.from("not really"),
  });
  expect(forged.status()).toBe(403);
  expect(forged.headers()["content-security-policy"]).toContain("default-src 'none'");
  expect(forged.headers()["x-content-type-options"]).toBe("nosniff");
  expect((await forged.json()).error.message).toMatch(/did not come from Coffer's own pages/);
  const wrongType = await page.request.post(upload, {
    headers: { Origin: baseURL!, "Content-Type": "text/plain" },
    data: "x",
  });
  expect(wrongType.status()).toBe(400);
  expect((await wrongType.json()).error.message).toBe(
    "Send the body as application/gzip or application/x-gzip or application/octet-stream (Content-Type), not text/plain.",
  );
});

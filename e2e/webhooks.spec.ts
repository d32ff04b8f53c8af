import { expect, test } from "@playwright/test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startReceiver, type Receiver } from "../test/servers/webhook-receiver";
import { acceptAsNewUser, addLocalServer, createToken, invite, openSection, signUp, uniqueEmail } from "./helpers";
import { e2eMetricsToken } from "./metrics-token";

let receiver: Receiver;
test.beforeAll(async () => {
  receiver = await startReceiver();
});
test.afterAll(() => receiver?.stop());

test("webhooks: an admin adds an endpoint, sends a test, sees a failing backup's delivery with the receiver's answer, redelivers it; a member cannot", async ({
  page,
  browser,
}) => {
  const team = await signUp(page, "Hana", uniqueEmail("hana"));
  receiver.on("/coffer", { status: 202, body: "accepted by receiver" });

  await page.goto(`/${team}/webhooks`);
  await page.getByLabel("Description").fill("receiver");
  await page.getByLabel("URL").fill(receiver.url("/coffer"));
  await page.getByRole("button", { name: "Add channel" }).click();
  const card = page.getByTestId("channel-receiver");
  // The new card comes with the page's refresh; the secret, shown only this once, is still in sight then.
  await expect(card).toBeVisible();
  const secretOnce = page.getByTestId("secret-once");
  await expect(secretOnce).toBeVisible();
  const secret = await secretOnce.inputValue();
  expect(secret).toMatch(/^whsec_/);
  // Only the host is shown again: the URL is stored encrypted, as it may carry a token.
  await expect(card).toContainText(`${new URL(receiver.url("/coffer")).host} (URL stored encrypted)`);
  expect(await card.innerHTML()).not.toContain(receiver.url("/coffer"));

  await card.getByRole("button", { name: "Send test" }).click();
  await expect(card.getByTestId("test-result")).toContainText("Delivered: answered 202");
  await expect(card.getByTestId("test-result")).toContainText("accepted by receiver");
  const tested = receiver.at("/coffer")[0]!;
  expect(receiver.verify(secret, tested)).toBe(true);
  expect(JSON.parse(tested.body)).toMatchObject({ type: "backup.succeeded", test: true });
  // The secret is not on the page any more once it is reloaded.
  await page.reload();
  expect(await page.content()).not.toContain(secret);

  // A backup of a folder that does not exist fails; its backup.failed delivery shows the receiver's answer.
  const serverPath = await addLocalServer(page, team, "web-host");
  await openSection(page, "Add a source");
  await page.getByLabel("Directories").check();
  await page.getByLabel("Source name").fill("gone");
  await page.getByLabel("Paths").fill("/definitely/not/here");
  await page.getByRole("button", { name: "Add source" }).click();
  await page.goto(`/${team}/storage`);
  await page.getByLabel("Name").fill("disk");
  await page.getByRole("button", { name: "Add destination" }).click();
  await expect(page.getByTestId("destination-disk")).toBeVisible();
  await page.goto(serverPath);
  await page.getByRole("button", { name: "Back up now" }).click();
  await page.getByRole("form", { name: "Back up now" }).getByRole("button", { name: "Start backup" }).click();
  await expect(page.getByTestId("backup-status")).toHaveText("Failed", { timeout: 60_000 });

  await page.goto(`/${team}/webhooks`);
  await page.getByTestId("channel-receiver").getByRole("link", { name: "Delivery log" }).click();
  await expect(page.getByRole("heading", { name: "Delivery log: receiver" })).toBeVisible();
  const failed = page.locator('[data-testid="delivery-row"][data-event="backup.failed"]');
  await expect(async () => {
    await page.reload();
    await expect(failed.first()).toHaveAttribute("data-status", "succeeded", { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await expect(failed.first().getByTestId("response-status")).toHaveText("202");
  await expect(failed.first()).toContainText("accepted by receiver");
  const delivered = receiver.at("/coffer").filter((r) => JSON.parse(r.body).type === "backup.failed");
  expect(delivered).toHaveLength(1);
  expect(receiver.verify(secret, delivered[0]!)).toBe(true);
  expect(JSON.parse(delivered[0]!.body).data.server.name).toBe("web-host");

  // Filter by status, then Redeliver: a new delivery of the same event, under the same webhook-id.
  await page.getByRole("link", { name: "Failed", exact: true }).click();
  await expect(page.getByText("Nothing failed yet.")).toBeVisible();
  await page.getByRole("link", { name: "All", exact: true }).click();
  receiver.on("/coffer", { status: 200, body: "again" });
  await failed.first().getByRole("button", { name: "Redeliver" }).click();
  await expect(failed).toHaveCount(2); // the page refreshes itself once the redelivery is queued
  await expect(async () => {
    await page.reload();
    await expect(failed).toHaveCount(2, { timeout: 1_000 });
    await expect(failed.first()).toHaveAttribute("data-status", "succeeded", { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await expect(failed.first()).toContainText("redelivery");
  await expect(failed.first()).toContainText("again");
  const both = receiver.at("/coffer").filter((r) => JSON.parse(r.body).type === "backup.failed");
  expect(both.map((r) => r.headers["webhook-id"])).toEqual([
    delivered[0]!.headers["webhook-id"],
    delivered[0]!.headers["webhook-id"],
  ]);

  // A member sees no Webhooks page, link or channel.
  const memberEmail = uniqueEmail("mo");
  const member = await acceptAsNewUser(browser, await invite(page, team, memberEmail, "Member"), "Mo", memberEmail);
  await expect(member.page.getByRole("link", { name: "Webhooks" })).toHaveCount(0);
  const res = await member.page.goto(`/${team}/webhooks`);
  expect(res!.status()).toBe(403);
  expect(await member.page.content()).not.toContain(receiver.url("/coffer"));
  await member.context.close();
});

test("API tokens: created with scopes and shown once, used for metrics, revoked; another team's token sees nothing of this team", async ({
  page,
  browser,
  playwright,
}) => {
  const team = await signUp(page, "Pia", uniqueEmail("pia"));
  // One successful backup, so the scrape has the server's series.
  const folder = mkdtempSync(path.join(tmpdir(), "coffer-e2e-metrics-"));
  writeFileSync(path.join(folder, "a.txt"), "a");
  const serverPath = await addLocalServer(page, team, "pia-host");
  await openSection(page, "Add a source");
  await page.getByLabel("Directories").check();
  await page.getByLabel("Source name").fill("files");
  await page.getByLabel("Paths").fill(folder);
  await page.getByRole("button", { name: "Add source" }).click();
  await page.goto(`/${team}/storage`);
  await page.getByLabel("Name").fill("disk");
  await page.getByRole("button", { name: "Add destination" }).click();
  await expect(page.getByTestId("destination-disk")).toBeVisible();
  await page.goto(serverPath);
  await page.getByRole("button", { name: "Back up now" }).click();
  await page.getByRole("form", { name: "Back up now" }).getByRole("button", { name: "Start backup" }).click();
  await expect(page.getByTestId("backup-status")).toHaveText("Succeeded", { timeout: 60_000 });
  // The Overview's health panel: the server's last good backup is minutes old, none verified yet.
  await page.goto(`/${team}`);
  await expect(page.getByTestId("health-server-pia-host")).toContainText(/pia-host\s*[0-2] min ago\s*never/);
  const token = await createToken(page, team, "prometheus", ["metrics:read"]);
  expect(token).toMatch(/^coffer_[A-Za-z0-9_-]{43}$/);
  await page.reload();
  expect(await page.content()).not.toContain(token);
  const row = page.getByTestId("token-prometheus");
  await expect(row).toContainText(token.slice(0, 13));
  await expect(row).toContainText("metrics:read");
  await expect(row.getByTestId("last-used")).toHaveText("never");

  const api = await playwright.request.newContext({ baseURL: test.info().project.use.baseURL });
  const url = `/api/teams/${team}/metrics`;
  const anonymous = await api.get(url);
  expect(anonymous.status()).toBe(401);
  expect(anonymous.headers()["www-authenticate"]).toContain("Bearer");
  const scrape = await api.get(url, { headers: { Authorization: `Bearer ${token}` } });
  expect(scrape.status()).toBe(200);
  const text = await scrape.text();
  const checked = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  expect(checked.status, checked.stdout + checked.stderr).toBe(0);
  expect(text).toContain('coffer_server_last_success_timestamp_seconds{server="pia-host"');
  await page.reload();
  await expect(row.getByTestId("last-used")).not.toHaveText("never");

  // Another team's token: this team's endpoint does not exist for it; its own shows only its own servers.
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  const otherTeam = await signUp(otherPage, "Quin", uniqueEmail("quin"));
  const otherToken = await createToken(otherPage, otherTeam, "theirs", ["metrics:read", "read"]);
  expect((await api.get(url, { headers: { Authorization: `Bearer ${otherToken}` } })).status()).toBe(404);
  const theirs = await (
    await api.get(`/api/teams/${otherTeam}/metrics`, { headers: { Authorization: `Bearer ${otherToken}` } })
  ).text();
  expect(theirs).toContain("coffer_backups");
  expect(theirs).not.toContain("pia-host");
  // A token without metrics:read is refused with 403.
  const readOnly = await createToken(otherPage, otherTeam, "read-only", ["read"]);
  expect(
    (await api.get(`/api/teams/${otherTeam}/metrics`, { headers: { Authorization: `Bearer ${readOnly}` } })).status(),
  ).toBe(403);
  await other.close();

  // The operators' endpoint: every team, labelled; only with METRICS_TOKEN.
  expect((await api.get("/api/metrics")).status()).toBe(401);
  const all = await (await api.get("/api/metrics", { headers: { Authorization: `Bearer ${e2eMetricsToken}` } })).text();
  expect(all).toContain(`team="${team}",server="pia-host"`);
  expect(all).toContain(`team="${otherTeam}"`);

  await page.reload();
  page.once("dialog", (d) => void d.accept());
  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(row.getByTestId("revoked")).toBeVisible();
  const revoked = await api.get(url, { headers: { Authorization: `Bearer ${token}` } });
  expect(revoked.status()).toBe(401);
  expect((await revoked.json()).error.message).toContain("revoked");
  await api.dispose();
});

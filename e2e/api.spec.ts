import { expect, test, type APIResponse } from "@playwright/test";
import { Ajv2020 } from "ajv/dist/2020.js";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { addDirectorySource, addDiskDestination, addLocalServer, createToken, signUp, uniqueEmail } from "./helpers";

type Doc = { paths: Record<string, Record<string, { responses: Record<string, unknown> }>>; components: object };

/** Checks a JSON answer against what the running build's own /api/v1/openapi.json publishes for it. */
async function conforms(doc: Doc, template: string, method: string, r: APIResponse) {
  let answer = doc.paths[`/api/v1${template}`]?.[method]?.responses[String(r.status())] as
    { $ref?: string; content?: Record<string, { schema: object }> } | undefined;
  expect(answer, `${method} ${template} ${r.status()} is documented`).toBeDefined();
  if (answer?.$ref)
    answer = (doc.components as Record<string, Record<string, object>>).responses![answer.$ref.split("/").at(-1)!];
  const validate = new Ajv2020({ strict: false, validateFormats: false }).compile({
    ...answer!.content!["application/json"]!.schema,
    components: doc.components,
  });
  const json = await r.json();
  expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
  return json;
}

test("the API reference is served by Coffer itself: every operation listed, nothing fetched from elsewhere", async ({
  page,
  context,
}) => {
  const team = await signUp(page, "Ravi", uniqueEmail("ravi"));
  await page.goto(`/${team}/settings/api-tokens`);
  const href = await page.getByRole("link", { name: "API reference" }).getAttribute("href");
  expect(href).toBe("/api/v1/reference");

  // Only the reference page's own requests count (the app's prefetches end when one leaves a page).
  const reference = await context.newPage();
  const failed: string[] = [];
  const elsewhere: string[] = [];
  reference.on("requestfailed", (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
  reference.on("request", (r) => {
    if (!r.url().startsWith(test.info().project.use.baseURL!) && !/^(data|blob):/.test(r.url()))
      elsewhere.push(r.url());
  });
  reference.on("console", (m) => {
    if (m.type() === "error") failed.push(`console: ${m.text()}`);
  });
  const response = await reference.goto(href!);
  expect(response!.status()).toBe(200);
  expect(response!.headers()["content-security-policy"]).toMatch(/script-src 'self' 'nonce-[^']+' 'strict-dynamic'/);
  await expect(reference.getByText("List backups, newest first").first()).toBeVisible({ timeout: 30_000 });
  await expect(reference.getByText("Coffer API").first()).toBeVisible();
  expect(failed).toEqual([]);
  expect(elsewhere).toEqual([]);
});

test("API over HTTP: a token made in the UI lists, triggers once per Idempotency-Key, gets and downloads by Range; last use shown; revoked → 401", async ({
  page,
  playwright,
}) => {
  const team = await signUp(page, "Sana", uniqueEmail("sana"));
  const folder = mkdtempSync(path.join(tmpdir(), "coffer-e2e-api-"));
  const content = randomBytes(300_000);
  writeFileSync(path.join(folder, "data.bin"), content);
  await addLocalServer(page, team, "api-host");
  await addDirectorySource(page, "data", folder);
  await addDiskDestination(page, team);
  const token = await createToken(page, team, "ci", ["read", "backups:write"]);
  expect(token).toMatch(/^coffer_/);
  await page.reload();
  expect(await page.content()).not.toContain(token);

  const api = await playwright.request.newContext({
    baseURL: test.info().project.use.baseURL,
    extraHTTPHeaders: { Authorization: `Bearer ${token}` },
  });
  const doc = (await (await api.get("/api/v1/openapi.json")).json()) as Doc;

  const servers = await api.get("/api/v1/servers");
  expect(servers.status()).toBe(200);
  const [server] = (await conforms(doc, "/servers", "get", servers)).data;
  expect(server).toMatchObject({ name: "api-host", kind: "local", sourceCount: 1 });
  const destinations = await conforms(doc, "/destinations", "get", await api.get("/api/v1/destinations"));
  const body = { serverId: server.id, destinationIds: [destinations.data[0].id], encrypted: true };

  const key = `deploy-${randomBytes(6).toString("hex")}`;
  const first = await api.post("/api/v1/backups", { data: body, headers: { "Idempotency-Key": key } });
  expect(first.status()).toBe(201);
  const made = await conforms(doc, "/backups", "post", first);
  const again = await api.post("/api/v1/backups", { data: body, headers: { "Idempotency-Key": key } });
  expect(again.status()).toBe(200);
  expect((await conforms(doc, "/backups", "post", again)).id).toBe(made.id);
  const listed = await api.get(`/api/v1/backups?serverId=${server.id}`);
  expect((await conforms(doc, "/backups", "get", listed)).data.map((b: { id: string }) => b.id)).toEqual([made.id]);

  let backup: { status: string; locations: { status: string }[] } | undefined;
  await expect
    .poll(
      async () => {
        const got = await api.get(`/api/v1/backups/${made.id}`);
        backup = await conforms(doc, "/backups/{backupId}", "get", got);
        return backup!.status;
      },
      { timeout: 60_000 },
    )
    .toBe("succeeded");
  expect(backup!.locations).toEqual([expect.objectContaining({ status: "stored" })]);

  const whole = await api.get(`/api/v1/backups/${made.id}/download`);
  expect(whole.status()).toBe(200);
  const archive = await whole.body();
  expect(gunzipSync(archive).includes(content.subarray(0, 4096))).toBe(true);
  const part = await api.get(`/api/v1/backups/${made.id}/download`, { headers: { Range: "bytes=100-1123" } });
  expect(part.status()).toBe(206);
  expect(part.headers()["content-range"]).toBe(`bytes 100-1123/${archive.length}`);
  expect(Buffer.compare(await part.body(), archive.subarray(100, 1124))).toBe(0);

  // Settings → API tokens shows when the token was last used (from where only behind a trusted proxy:
  // this server runs with TRUST_PROXY=false, so it records no address; lib/api-tokens covers that).
  await page.reload();
  const row = page.getByTestId("token-ci");
  // Shown in the reader's zone; the machine-readable time is on the <time> element.
  const lastUsed = row.getByTestId("last-used").locator("time");
  await expect(lastUsed).toHaveText(/^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d/);
  expect(Math.abs(Date.parse((await lastUsed.getAttribute("datetime"))!) - Date.now())).toBeLessThan(5 * 60_000);
  page.once("dialog", (d) => void d.accept());
  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(row.getByTestId("revoked")).toBeVisible();
  const revoked = await api.get("/api/v1/servers");
  expect(revoked.status()).toBe(401);
  expect(revoked.headers()["www-authenticate"]).toContain("Bearer");
  expect((await conforms(doc, "/servers", "get", revoked)).error.message).toContain("revoked");
  await api.dispose();
});

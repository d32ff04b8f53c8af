import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { addDirectorySource, addDiskDestination, addLocalServer, signUp, uniqueEmail } from "./helpers";

// Resumable downloads against the production build: the headers Chromium needs to offer Resume
// reach it, curl -C - resumes an interrupted download, and Chromium's resume request gets the rest.

const work = mkdtempSync(path.join(tmpdir(), "coffer-e2e-downloads-"));
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

test("a download comes with its size and validators, resumes with curl -C - and with Chromium's If-Range, and is audited once", async ({
  page,
}) => {
  test.setTimeout(180_000);
  const team = await signUp(page, "Rex", uniqueEmail("rex"));
  const serverPath = await addLocalServer(page, team, "files-host");
  const dir = mkdtempSync(path.join(work, "data-"));
  writeFileSync(path.join(dir, "blob.bin"), randomBytes(6 * 1024 * 1024)); // 6 segments: resumes cross them
  await addDirectorySource(page, "blobs", dir);
  await addDiskDestination(page, team);
  await page.goto(serverPath);
  await page.getByRole("button", { name: "Back up now" }).click();
  await page.getByRole("form", { name: "Back up now" }).getByRole("button", { name: "Start backup" }).click();
  await expect(page.getByTestId("backup-status")).toHaveText("Succeeded", { timeout: 90_000 });
  const url = (await page.getByRole("link", { name: "Download", exact: true }).getAttribute("href"))!;

  // What Chromium itself receives (its network stack, this page's session): the headers that let it
  // show progress and offer Resume.
  const seen = await page.evaluate(async (u) => {
    const r = await fetch(u);
    const body = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, headers: Object.fromEntries(r.headers), length: body.length };
  }, url);
  expect(seen.status).toBe(200);
  expect(seen.headers).toMatchObject({
    "content-length": String(seen.length),
    "accept-ranges": "bytes",
    etag: expect.stringMatching(/^"[0-9a-f]{64}"$/),
    "last-modified": expect.stringMatching(/ GMT$/),
    "content-disposition": expect.stringMatching(/^attachment; filename="files-host-\d{8}-\d{6}\.tar\.gz"$/),
  });
  expect(seen.headers["transfer-encoding"]).toBeUndefined();
  const etag = seen.headers.etag!;

  // The request Chromium sends to resume (Range and If-Range with the tag it saw): the rest, 206.
  const cut = 2_500_000;
  const resumed = await page.evaluate(
    async ({ u, from, tag }) => {
      const r = await fetch(u, { headers: { Range: `bytes=${from}-`, "If-Range": tag } });
      return { status: r.status, headers: Object.fromEntries(r.headers), length: (await r.arrayBuffer()).byteLength };
    },
    { u: url, from: cut, tag: etag },
  );
  expect(resumed.status).toBe(206);
  expect(resumed.headers["content-range"]).toBe(`bytes ${cut}-${seen.length - 1}/${seen.length}`);
  expect(resumed.headers["content-length"]).toBe(String(seen.length - cut));
  // A tag it saw of an older file: the whole file again.
  const stale = await page.evaluate(
    async (u) => (await fetch(u, { headers: { Range: "bytes=100-", "If-Range": '"0000"' } })).status,
    url,
  );
  expect(stale).toBe(200);

  // curl, as a person would use it: the HEAD and the GET carry Content-Length (not chunked), and
  // `curl -C -` finishes a cut-off download into the same bytes.
  const origin = new URL(page.url()).origin;
  const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
  const curl = (...args: string[]) => execFileSync("curl", ["-sS", "-H", `Cookie: ${cookie}`, ...args, origin + url]);
  const head = curl("-I").toString();
  expect(head).toMatch(/^HTTP\/1\.1 200/);
  expect(head).toMatch(new RegExp(`\\r\\ncontent-length: ${seen.length}\\r\\n`, "i"));
  expect(head).toMatch(new RegExp(`\\r\\netag: ${etag}\\r\\n`, "i"));
  const full = path.join(work, "full.tar.gz");
  const shown = curl("-D", "-", "-o", full).toString();
  expect(shown).toMatch(new RegExp(`\\r\\ncontent-length: ${seen.length}\\r\\n`, "i"));
  expect(shown).not.toMatch(/transfer-encoding/i);
  const part = path.join(work, "part.tar.gz");
  writeFileSync(part, readFileSync(full));
  truncateSync(part, 3_333_333); // the connection dropped here
  curl("-C", "-", "-o", part);
  expect(statSync(part).size).toBe(seen.length);
  expect(sha(readFileSync(part))).toBe(sha(readFileSync(full)));
  execFileSync("tar", ["tzf", part]);

  // A HEAD, a full download, two resumptions and curl's: one person's download, one audit row.
  await page.goto(`/${team}/settings/audit?action=backup.downloaded`);
  await expect(page.getByTestId("audit-events").locator("tbody tr", { hasText: "backup.downloaded" })).toHaveCount(1);
});

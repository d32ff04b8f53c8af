import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { BlobServiceClient } from "@azure/storage-blob";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backups, storageDestinations } from "@/db/schema";
import { applyRetention, scopeOfBackup } from "@/lib/retention/apply";
import { db } from "@/lib/db";
import { listAuditEvents } from "@/lib/audit/queries";
import { createDestination, deleteDestination } from "@/lib/destinations/mutations";
import { env } from "@/lib/env";
import { asAppError, httpStatus } from "@/lib/errors";
import { createAdapter } from "@/lib/storage";
import { requestVerification } from "@/lib/restores/mutations";
import { getRestore } from "@/lib/restores/queries";
import { createServer, deleteServer } from "@/lib/servers/mutations";
import { acceptInvitation, createInvitation } from "@/lib/teams/invitations";
import { teamForUser } from "@/lib/teams/context";
import { createSource } from "@/lib/servers/source-mutations";
import { setLocationRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { startAzurite, type AzuriteServer } from "@/test/servers/azurite";
import { startS3rver, type S3rverServer } from "@/test/servers/s3rver";
import { restoreEvent } from "@/inngest/events";
import { inProcessEngine, type InProcessEngine } from "@/inngest/in-process";
import { downloadResponse, openDownload, parseRange, RangeNotSatisfiable, requestRetrieval } from "./download";
import { archiveRetrievals } from "./retrieval";
import { removeFailedUpload } from "./mutations";
import { getBackup, listBackups } from "./queries";
import { storageConfig } from "@/lib/destinations/config";
import { importUpload } from "./upload";
import { backUpNow } from "@/test/backups";

let engine: InProcessEngine;
let scratch: string;

beforeAll(async () => {
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  scratch = mkdtempSync(path.join(tmpdir(), "coffer-dl-"));
});
afterAll(() => engine?.stop());

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
async function read(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A succeeded backup of a 3 MiB folder on the Coffer host, stored on the local disk. */
async function backedUp(encrypted: boolean) {
  const user = await signedUpUser("Dl");
  const t = await user.team("admin");
  const folder = mkdtempSync(path.join(scratch, "data-"));
  writeFileSync(path.join(folder, "blob.bin"), randomBytes(3 * 1024 * 1024));
  const { id: serverId } = await createServer(t, { kind: "local", name: "this host", workDir: "/var/tmp" });
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "directory",
    name: "blob",
    paths: [folder],
    excludes: [],
  });
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix: "dl" });
  const b = await backUpNow(engine, t, {
    serverId,
    sourceIds: [sourceId],
    destinationIds: [destinationId],
    encrypted,
  });
  expect(b.status).toBe("succeeded");
  return { user, t, id: b.id, b, folder, serverId, sourceId, destinationId };
}

describe("download", () => {
  it("streams the decrypted .tar.gz, and any byte range of it, and audits the download once", async () => {
    const { t, id, b, folder } = await backedUp(true);
    const full = await openDownload(t, id, null);
    expect(full.status).toBe(200);
    expect(full.headers).toMatchObject({
      "Content-Length": String(b.archiveBytes),
      "Content-Disposition": `attachment; filename="${b.fileName}"`,
      "Cache-Control": "private, no-store",
      "Accept-Ranges": "bytes",
    });
    expect(b.fileName).toMatch(/^this-host-\d{8}-\d{6}\.tar\.gz$/);
    const bytes = await read(full.body!);
    expect(bytes.length).toBe(b.archiveBytes);
    const file = path.join(scratch, `${id}.tar.gz`);
    writeFileSync(file, bytes);
    const out = mkdtempSync(path.join(scratch, "x-"));
    execFileSync("tar", ["xzf", file, "-C", out]);
    expect(sha(readFileSync(path.join(out, "files", folder.slice(1), "blob.bin")))).toBe(
      sha(readFileSync(path.join(folder, "blob.bin"))),
    );

    // Ranges across segment boundaries (1 MiB segments), a suffix, an open end.
    for (const [header, start, end] of [
      ["bytes=0-99", 0, 99],
      ["bytes=1048570-1048590", 1048570, 1048590],
      ["bytes=-1000", bytes.length - 1000, bytes.length - 1],
      [`bytes=${bytes.length - 5}-`, bytes.length - 5, bytes.length - 1],
    ] as const) {
      const part = await openDownload(t, id, header);
      expect(part.status).toBe(206);
      expect(part.headers["Content-Range"]).toBe(`bytes ${start}-${end}/${bytes.length}`);
      expect(part.headers["Content-Length"]).toBe(String(end - start + 1));
      expect((await read(part.body!)).equals(bytes.subarray(start, end + 1))).toBe(true);
    }
    await expect(openDownload(t, id, `bytes=${bytes.length}-`)).rejects.toBeInstanceOf(RangeNotSatisfiable);
    // One person's download and its resumptions are one download in the audit log.
    const audit = await listAuditEvents(t, { action: "backup.downloaded" });
    expect(audit.events).toHaveLength(1);
    expect(audit.events[0]).toMatchObject({ targetLabel: b.fileName, details: { from: "disk" } });
  });

  it("a backup named beyond ASCII (taken back from an object renamed in its bucket) downloads under its name", async () => {
    const { t, id, b } = await backedUp(false);
    const d = await db();
    await d.update(backups).set({ fileName: "Sicherung März 備份.tar.gz" }).where(eq(backups.id, id));
    const res = await downloadResponse(t, id, new Request(`http://127.0.0.1/api/teams/x/backups/${id}/download`));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="Sicherung M_rz __.tar.gz"; filename*=UTF-8''Sicherung%20M%C3%A4rz%20%E5%82%99%E4%BB%BD.tar.gz`,
    );
    expect((await res.arrayBuffer()).byteLength).toBe(b.sizeBytes);
  });

  it("resumes: a strong ETag per backup, Last-Modified, If-Range, HEAD; a download and its resumptions audited once per person", async () => {
    const { t, id, b } = await backedUp(true);
    const other = await backedUp(true);
    const first = await openDownload(t, id, null);
    const whole = await read(first.body!);
    const etag = first.headers.ETag!;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(first.headers["Last-Modified"]).toBe(
      new Date(Math.floor(b.finishedAt!.getTime() / 1000) * 1000).toUTCString(),
    );
    // Stable across requests, different between backups.
    expect((await openDownload(t, id, "bytes=0-0")).headers.ETag).toBe(etag);
    expect((await openDownload(other.t, other.id, null)).headers.ETag).not.toBe(etag);

    // What Chromium sends to resume: Range plus If-Range with the tag it saw → the rest (206).
    const cut = 1_234_567;
    const rest = await openDownload(t, id, `bytes=${cut}-`, { ifRange: etag });
    expect(rest.status).toBe(206);
    expect(rest.headers["Content-Range"]).toBe(`bytes ${cut}-${whole.length - 1}/${whole.length}`);
    expect(Buffer.concat([whole.subarray(0, cut), await read(rest.body!)]).equals(whole)).toBe(true);
    // Firefox may send the date instead.
    const byDate = await openDownload(t, id, "bytes=10-19", { ifRange: first.headers["Last-Modified"] });
    expect(byDate.status).toBe(206);
    expect((await read(byDate.body!)).equals(whole.subarray(10, 20))).toBe(true);
    // A tag of another file (or a weak one, or another date): the whole file, 200.
    for (const stale of [
      (await openDownload(other.t, other.id, null)).headers.ETag!,
      `W/${etag}`,
      "Mon, 01 Jan 2024 00:00:00 GMT",
    ]) {
      const d = await openDownload(t, id, `bytes=${cut}-`, { ifRange: stale });
      expect(d.status).toBe(200);
      expect(d.headers["Content-Length"]).toBe(String(whole.length));
      expect(d.headers["Content-Range"]).toBeUndefined();
      expect((await read(d.body!)).equals(whole)).toBe(true);
    }

    // HEAD: the headers a GET would send, no body, and no lease keeping retention away after it.
    const d = await db();
    const lease = async () =>
      (await d.select({ until: backups.readingUntil }).from(backups).where(eq(backups.id, id)))[0]!.until;
    await d.update(backups).set({ readingUntil: null }).where(eq(backups.id, id)); // the GETs' leases
    const head = await openDownload(t, id, null, { head: true });
    expect(await lease()).toBeNull();
    expect(head).toMatchObject({ status: 200, body: null });
    expect(head.headers).toEqual({ ...first.headers });
    const headRange = await openDownload(t, id, "bytes=5-9", { head: true });
    expect(headRange.headers).toMatchObject({ "Content-Length": "5", "Content-Range": `bytes 5-9/${whole.length}` });

    // All of that was one download by one person; another member's download is another row.
    const rows = async () => (await listAuditEvents(t, { action: "backup.downloaded" })).events;
    expect(await rows()).toHaveLength(1);
    const meg = await signedUpUser("Meg");
    const invitation = await createInvitation(t, { email: meg.email, role: "member" });
    await acceptInvitation(meg.actor, meg.email, invitation.link.split("/").at(-1)!);
    const colleague = await teamForUser(meg.actor, t.slug, "member");
    await read((await openDownload(colleague, id, null)).body!);
    await read((await openDownload(colleague, id, "bytes=100-")).body!);
    expect((await rows()).map((e) => e.actor).sort()).toEqual([t.actor.label, colleague.actor.label].sort());
  });

  it("a stored object with one flipped byte fails the download instead of delivering a damaged file", async () => {
    const { t, id, b } = await backedUp(true);
    const stored = path.join(env().DATA_DIR, "storage", t.id, "dl", b.locations[0]!.objectKey);
    const data = readFileSync(stored);
    data[Math.floor(data.length / 2)]! ^= 0x01;
    writeFileSync(stored, data);
    const d = await openDownload(t, id, null);
    await expect(read(d.body!)).rejects.toThrow(/segment \d+ failed authentication/);
  });

  it("a copy a download found damaged is read last from then on, and its backup says so, until a whole read passes again", async () => {
    const { t, serverId, sourceId, destinationId } = await backedUp(true);
    const { id: second } = await createDestination(t, { kind: "local", name: "disk 2", prefix: "dl2" });
    const b = await backUpNow(engine, t, {
      serverId,
      sourceIds: [sourceId],
      destinationIds: [destinationId, second],
      encrypted: true,
    });
    const whole = await read((await openDownload(t, b.id, null)).body!);
    const [read1] = (await listAuditEvents(t, { action: "backup.downloaded" })).events;
    const first = b.locations.find((l) => l.destinationName === read1!.details!.from)!;
    const prefix = first.destinationId === destinationId ? "dl" : "dl2";
    const stored = path.join(env().DATA_DIR, "storage", t.id, prefix, first.objectKey);
    const original = readFileSync(stored);
    const flipped = Buffer.from(original);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
    writeFileSync(stored, flipped);

    await expect(read((await openDownload(t, b.id, null)).body!)).rejects.toThrow(/segment \d+ failed authentication/);
    await expect
      .poll(async () => (await getBackup(t, b.id)).locations.find((l) => l.id === first.id)!.damage)
      .toMatch(/^The backup object cannot be trusted: segment \d+ failed authentication/);
    // The next download reads the other copy, whole.
    expect((await read((await openDownload(t, b.id, null)).body!)).equals(whole)).toBe(true);

    // Put back as it was, and read whole when it is the only copy readable: no longer marked.
    writeFileSync(stored, original);
    const other = b.locations.find((l) => l.id !== first.id)!;
    await setLocationRow(b.id, other.destinationId, { status: "deleted" });
    expect((await read((await openDownload(t, b.id, null)).body!)).equals(whole)).toBe(true);
    await expect
      .poll(async () => (await getBackup(t, b.id)).locations.find((l) => l.id === first.id)!.damage)
      .toBeNull();
  });

  it("an unencrypted stored object that was altered or cut short fails the download at its end instead of delivering it", async () => {
    const { t, id, b } = await backedUp(false);
    const stored = path.join(env().DATA_DIR, "storage", t.id, "dl", b.locations[0]!.objectKey);
    const original = readFileSync(stored);
    const flipped = Buffer.from(original);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
    writeFileSync(stored, flipped);
    await expect(read((await openDownload(t, id, null)).body!)).rejects.toThrow(
      /^The backup object in "disk" is not what was stored: its SHA-256 differs from the one recorded/,
    );
    writeFileSync(stored, original.subarray(0, original.length - 100));
    await expect(read((await openDownload(t, id, null)).body!)).rejects.toThrow(
      `it ends after ${(original.length - 100).toLocaleString("en-US")} bytes of ${original.length.toLocaleString("en-US")} bytes`,
    );
    // A range has no digest to check, only its length: one running into the cut fails too.
    await expect(read((await openDownload(t, id, `bytes=${original.length - 200}-`)).body!)).rejects.toThrow(
      /it ends after 100 bytes of 200 bytes/,
    );
    writeFileSync(stored, original);
    expect(sha(await read((await openDownload(t, id, null)).body!))).toBe(b.sha256);
  });

  it("unencrypted backups download as stored; viewers and other teams cannot download; their server and destination cannot be deleted", async () => {
    const { user, t, id, b, serverId, destinationId } = await backedUp(false);
    await expect(deleteServer(t, serverId)).rejects.toThrow(
      "This server has 1 backup stored, in the trash or running; deleting it would lose track of them.",
    );
    await expect(deleteDestination(t, destinationId)).rejects.toThrow(
      "1 backup is stored in this destination; deleting it would lose track of them. Delete those backups first.",
    );
    const d = await openDownload(t, id, null);
    const bytes = await read(d.body!);
    expect(sha(bytes)).toBe(b.sha256);
    const viewer = { ...(await user.team("viewer")), role: "viewer" as const };
    await expect(openDownload(viewer, id, null)).rejects.toMatchObject({ code: "FORBIDDEN" });
    const other = await (await signedUpUser("Eve")).team("owner");
    await expect(openDownload(other, id, null)).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("parses Range headers", () => {
    expect(parseRange(null, 10)).toBeNull();
    expect(parseRange("bytes=0-0", 10)).toEqual({ start: 0, end: 0 });
    expect(parseRange("bytes=5-100", 10)).toEqual({ start: 5, end: 9 });
    expect(parseRange("bytes=-3", 10)).toEqual({ start: 7, end: 9 });
    expect(parseRange("bytes=0-1,4-5", 10)).toBeNull();
    expect(() => parseRange("bytes=10-", 10)).toThrow(RangeNotSatisfiable);
    expect(() => parseRange("bytes=5-2", 10)).toThrow(RangeNotSatisfiable);
    expect(() => parseRange("bytes=a-b", 10)).toThrow(RangeNotSatisfiable);
    // The unit is case-insensitive and may have spaces around it; another unit is ignored.
    expect(parseRange("Bytes = 2-3", 10)).toEqual({ start: 2, end: 3 });
    expect(parseRange("items=1-2", 10)).toBeNull();
  });
});

describe("upload", () => {
  it("imports a .tar.gz as an encrypted backup that downloads byte for byte", async () => {
    const { t, serverId, destinationId } = await backedUp(false);
    const dir = mkdtempSync(path.join(scratch, "up-"));
    writeFileSync(path.join(dir, "dump.sql"), "select 1;\n".repeat(10_000));
    const made = new Date("2024-03-05T10:20:30Z");
    utimesSync(path.join(dir, "dump.sql"), made, made);
    const archive = execFileSync("tar", ["czf", "-", "-C", dir, "dump.sql"]);
    const result = await importUpload(
      t,
      { serverId, destinationIds: [destinationId], encrypted: true, fileName: "old.tar.gz" },
      Readable.from([archive.subarray(0, 1000), archive.subarray(1000)]),
    );
    const b = await getBackup(t, result.id);
    expect(b).toMatchObject({ status: "succeeded", trigger: "upload", encrypted: true, archiveBytes: archive.length });
    expect((await read((await openDownload(t, result.id, null)).body!)).equals(archive)).toBe(true);
    expect(b.manifest).toBeNull(); // not a Coffer archive
    // The file's own name, and the archive's own date: its first member's time, without a manifest.
    expect(b).toMatchObject({ uploadedName: "old.tar.gz", archivedAt: made });
    expect((await listBackups(t)).rows.find((r) => r.id === result.id)).toMatchObject({ uploadedName: "old.tar.gz" });
  });

  it("a Coffer backup uploaded again keeps its manifest, so it can be restored and verified like the original", async () => {
    const { t, id, b: original, serverId, destinationId } = await backedUp(true);
    const archive = await read((await openDownload(t, id, null)).body!);
    const result = await importUpload(
      t,
      { serverId, destinationIds: [destinationId], encrypted: true, fileName: "again.tar.gz" },
      Readable.from([archive]),
    );
    const again = await getBackup(t, result.id);
    expect(again.manifest).toEqual(original.manifest);
    // Made when its manifest says the original run ended, not when it was uploaded.
    expect(again.archivedAt).toEqual(new Date(original.manifest!.finishedAt as string));
    expect(again.uploadedName).toBe("again.tar.gz");
  });

  it("an upload keeps the manifest of a backup of tens of thousands of files (over 5 MiB)", async () => {
    const { t, b: original, serverId, destinationId } = await backedUp(false);
    const entries = Array.from({ length: 30_000 }, (_, i) => ({
      path: `files/srv/www/site/node_modules/package-${i}/lib/index.js`,
      size: i,
      sha256: createHash("sha256").update(String(i)).digest("hex"),
    }));
    const manifest = { ...original.manifest, entries };
    const dir = mkdtempSync(path.join(tmpdir(), "big-manifest-"));
    writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
    expect(readFileSync(path.join(dir, "manifest.json")).length).toBeGreaterThan(5 * 1024 * 1024);
    const archive = execFileSync("tar", ["czf", "-", "-C", dir, "manifest.json"], { maxBuffer: 64 * 1024 * 1024 });
    const result = await importUpload(
      t,
      { serverId, destinationIds: [destinationId], encrypted: false, fileName: "many-files.tar.gz" },
      Readable.from([archive]),
    );
    const again = await getBackup(t, result.id);
    expect((again.manifest as { entries: unknown[] }).entries).toHaveLength(30_000);
    expect(again.manifest).toEqual(manifest);
  });

  it("a failed upload's row can be removed by a member (audited), nothing else can be removed this way, nor by viewers or other teams", async () => {
    const { user, t, id: kept, serverId, destinationId } = await backedUp(false);
    const gzNotTar = execFileSync("gzip", ["-c"], { input: randomBytes(4096) });
    await expect(
      importUpload(
        t,
        { serverId, destinationIds: [destinationId], encrypted: false, fileName: "broken.tar.gz" },
        Readable.from([gzNotTar]),
      ),
    ).rejects.toThrow(/not a tar archive/);
    const failed = (await listBackups(t)).rows.find((r) => r.uploadedName === "broken.tar.gz")!;
    expect(failed).toMatchObject({ status: "failed", trigger: "upload" });

    const viewer = { ...(await user.team("viewer")), role: "viewer" as const };
    await expect(removeFailedUpload(viewer, failed.id)).rejects.toMatchObject({ code: "FORBIDDEN" });
    const other = await (await signedUpUser("Eve")).team("owner");
    await expect(removeFailedUpload(other, failed.id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(removeFailedUpload(t, kept)).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("Only a failed upload can be removed this way"),
    });

    const member = { ...(await user.team("member")), role: "member" as const };
    await removeFailedUpload(member, failed.id);
    expect((await listBackups(t)).rows.map((r) => r.id)).toEqual([kept]);
    await expect(getBackup(t, failed.id)).rejects.toMatchObject({ code: "NOT_FOUND" });
    const audit = await listAuditEvents(t, { action: "backup.failed_upload_removed" });
    expect(audit.events).toMatchObject([{ targetType: "backup", targetLabel: "broken.tar.gz" }]);
    await expect(removeFailedUpload(t, failed.id)).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("refuses an archive that would not restore: a tar cut short inside intact gzip, or database dumps unlike its Coffer manifest", async () => {
    const { t, b: original, serverId, destinationId } = await backedUp(false);
    const folder = path.join(env().DATA_DIR, "storage", t.id, "dl", serverId);
    const before = readdirSync(folder);
    const upload = (archive: Buffer) =>
      importUpload(t, { serverId, destinationIds: [destinationId], encrypted: true }, Readable.from([archive]));
    const dir = mkdtempSync(path.join(scratch, "cut-"));
    writeFileSync(path.join(dir, "data.bin"), randomBytes(256 * 1024));
    // What a `tar czf` killed part-way leaves when gzip still ends its stream.
    const tar = execFileSync("tar", ["cf", "-", "-C", dir, "data.bin"]);
    await expect(upload(execFileSync("gzip", ["-c"], { input: tar.subarray(0, 100_000) }))).rejects.toThrow(
      "The file is not a valid .tar.gz: it is gzip-compressed, but what is inside is not a complete tar archive. Upload the archive as it was made, without changes.",
    );

    // A Coffer archive whose dumps (postgres/*.sql) are `listed` in its manifest, holding `files`.
    const coffer = (files: Record<string, Buffer>, listed: Record<string, Buffer>) => {
      const d = mkdtempSync(path.join(scratch, "unlike-"));
      const entries = Object.entries(listed).map(([p, body]) => ({ path: p, size: body.length, sha256: sha(body) }));
      const postgres = Object.keys(listed)
        .filter((p) => p.startsWith("postgres/"))
        .map((p) => ({
          source: "src_x",
          database: path.basename(p, ".sql"),
          path: p,
          serverVersion: "15",
          pgDumpVersion: "15",
          snapshot: "x",
          tables: [],
        }));
      writeFileSync(path.join(d, "manifest.json"), JSON.stringify({ ...original.manifest, entries, postgres }));
      mkdirSync(path.join(d, "postgres"));
      mkdirSync(path.join(d, "files"));
      for (const [p, body] of Object.entries(files)) writeFileSync(path.join(d, p), body);
      return execFileSync("tar", ["czf", "-", "-C", d, "manifest.json", ...Object.keys(files)]);
    };
    const [a, b] = [Buffer.from("alpha\n"), Buffer.from("beta\n")];
    const [shop, crm] = ["postgres/shop.sql", "postgres/crm.sql"];
    const unlike = "The archive does not match its Coffer manifest:";
    const advice = "It would not restore; upload the archive as Coffer made it.";
    await expect(upload(coffer({ [shop]: a, [crm]: b }, { [shop]: a, [crm]: a }))).rejects.toThrow(
      `${unlike} postgres/crm.sql is 5 bytes; the manifest says 6 bytes. ${advice}`,
    );
    await expect(upload(coffer({ [shop]: a, [crm]: Buffer.from("gamma") }, { [shop]: a, [crm]: b }))).rejects.toThrow(
      `${unlike} postgres/crm.sql: its SHA-256 differs from the manifest's. ${advice}`,
    );
    await expect(upload(coffer({ [shop]: a }, { [shop]: a, [crm]: b }))).rejects.toThrow(
      `${unlike} postgres/crm.sql missing. ${advice}`,
    );
    expect(readdirSync(folder)).toEqual(before);
    // Folders' files are not held to it (one may change while it is archived, and still restores):
    // a changed or unlisted file passes, as do the dumps as listed.
    const fine = await upload(
      coffer({ [shop]: a, "files/a": b, "files/new": b }, { [shop]: a, "files/a": a, "files/gone": a }),
    );
    expect((await getBackup(t, fine.id)).status).toBe("succeeded");
  });

  it("refuses a file that is not a .tar.gz and keeps nothing of it", async () => {
    const { t, serverId, destinationId } = await backedUp(false);
    const folder = path.join(env().DATA_DIR, "storage", t.id, "dl", serverId);
    const before = readdirSync(folder);
    await expect(
      importUpload(
        t,
        { serverId, destinationIds: [destinationId], encrypted: true },
        Readable.from([randomBytes(4 * 1024 * 1024)]),
      ),
    ).rejects.toThrow(
      "The file is not a valid .tar.gz: it is not gzip-compressed data, or that data is damaged (a different format, or changed since it was made). Upload the archive as it was made, without changes.",
    ); // zlib's own "incorrect header check" means nothing to a user
    const gzNotTar = execFileSync("gzip", ["-c"], { input: randomBytes(4096) });
    await expect(
      importUpload(t, { serverId, destinationIds: [destinationId], encrypted: false }, Readable.from([gzNotTar])),
    ).rejects.toThrow(/not a tar archive/);
    expect(readdirSync(folder)).toEqual(before);
  });
});

describe("local-disk messages", () => {
  it("name the team's folder without its path inside Coffer's data folder", async () => {
    const { t } = await backedUp(false);
    const adapter = createAdapter(storageConfig(t.id, "local", { prefix: "dl" }, {}));
    const err = await adapter.retrieve("missing.tar.gz").then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe(`Object "missing.tar.gz" does not exist in this team's folder on the Coffer host.`);
    expect(err?.message).not.toContain(path.resolve(env().DATA_DIR));
  });
});

describe("archived copies", () => {
  // S3 refuses to read GLACIER objects until a restore finishes, and Azure keeps a blob archived for
  // hours after Set Blob Tier: the test servers do both, and finish on request.
  let s3: S3rverServer;
  let azure: AzuriteServer;
  beforeAll(async () => {
    [s3, azure] = await Promise.all([
      startS3rver({ refuseArchivedReads: true }),
      startAzurite({ rehydration: "pending" }),
    ]);
    await BlobServiceClient.fromConnectionString(azure.connectionString).createContainer("backups");
  });
  afterAll(async () => {
    await Promise.all([s3?.stop(), azure?.stop()]);
  });

  const s3Config = (prefix: string) => ({
    kind: "s3" as const,
    bucket: s3.bucket,
    prefix,
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  });
  const azureConfig = (prefix: string) => ({
    kind: "azure" as const,
    container: "backups",
    prefix,
    connectionString: azure.connectionString,
  });

  /** An encrypted backup whose only copy is in `config`, moved to `archiveClass` at the provider and in its row; with the SHA-256 of its .tar.gz. */
  async function archivedBackup(
    config: ReturnType<typeof s3Config> | ReturnType<typeof azureConfig>,
    archiveClass: string,
  ) {
    const user = await signedUpUser("Arc");
    const t = await user.team("admin");
    const folder = mkdtempSync(path.join(scratch, "arc-"));
    writeFileSync(path.join(folder, "blob.bin"), randomBytes(2 * 1024 * 1024 + 123));
    const { id: serverId } = await createServer(t, { kind: "local", name: "this host", workDir: "/var/tmp" });
    const { id: sourceId } = await createSource(t, {
      serverId,
      kind: "directory",
      name: "blob",
      paths: [folder],
      excludes: [],
    });
    const { id: destinationId } = await createDestination(t, { name: config.kind, ...config });
    const b = await backUpNow(engine, t, {
      serverId,
      sourceIds: [sourceId],
      destinationIds: [destinationId],
      encrypted: true,
    });
    expect(b.status).toBe("succeeded");
    const archiveSha = sha(await read((await openDownload(t, b.id, null)).body!));
    await createAdapter(config).setStorageClass(b.locations[0]!.objectKey, archiveClass); // what retention does to monthly copies
    await setLocationRow(b.id, destinationId, { storageClass: archiveClass });
    return { user, t, id: b.id, destinationId, archiveSha, fileName: b.fileName };
  }

  /** The status and message the download route answers with (lib/web/route's toHttpResponse, which needs a request to import). */
  async function conflict(p: Promise<unknown>): Promise<{ status: number; message: string }> {
    const err = await p.then(
      () => {
        throw new Error("expected the download to be refused");
      },
      (e: unknown) => e,
    );
    const known = asAppError(err);
    if (!known) throw err;
    return { status: httpStatus[known.code], message: known.message };
  }

  const requestedAudits = async (t: Awaited<ReturnType<typeof archivedBackup>>["t"]) =>
    (await listAuditEvents(t, { action: "backup.retrieval_requested" })).events;

  const pressDownload =
    /^Every copy of this backup is in archive storage: it must be retrieved before it can be read, which the provider charges for\. Press Download on the backup's page to ask for the retrieval\.$/;

  it("S3 GLACIER: a GET asks for nothing; the Download button's POST asks for a restore (409, recorded, audited), the next says it is under way, then the bytes stream", async () => {
    const { user, t, id, destinationId, archiveSha, fileName } = await archivedBackup(
      s3Config(`arc-${randomBytes(3).toString("hex")}`),
      "GLACIER",
    );
    // A viewer may not download, so asks nothing of the provider either.
    const viewer = { ...(await user.team("viewer")), role: "viewer" as const };
    await expect(openDownload(viewer, id, null)).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(requestRetrieval(viewer, id)).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await archiveRetrievals(t, id)).toEqual(new Map([[(await getBackup(t, id)).locations[0]!.id, null]]));

    // A GET (a link, a prefetch, a crawler) never triggers a paid retrieval.
    expect(await conflict(openDownload(t, id, null))).toEqual({
      status: 409,
      message: expect.stringMatching(pressDownload),
    });
    expect(await conflict(openDownload(t, id, "bytes=0-0"))).toMatchObject({ status: 409 });
    expect(await conflict(openDownload(t, id, null, { head: true }))).toMatchObject({ status: 409 }); // as a GET would
    expect(await requestedAudits(t)).toHaveLength(0);
    expect(await archiveRetrievals(t, id)).toEqual(new Map([[(await getBackup(t, id)).locations[0]!.id, null]]));

    const asked = Date.now();
    const first = await conflict(requestRetrieval(t, id));
    expect(first.status).toBe(409);
    expect(first.message).toMatch(
      /^Every copy of this backup is in archive storage, so Coffer asked "s3" to restore its copy \(GLACIER\)\. It will be readable in about 5 hours \(by \d{1,2} \w{3} \d{4}, \d{2}:\d{2} UTC\): download again then\.$/,
    );
    const [retrieval] = [...(await archiveRetrievals(t, id)).values()];
    expect(retrieval!.requestedAt.getTime()).toBeGreaterThanOrEqual(asked - 1000);
    expect(retrieval!.readyBy.getTime() - retrieval!.requestedAt.getTime()).toBeGreaterThan(5 * 3_600_000 - 60_000);
    expect(retrieval!.readyBy.getTime() - retrieval!.requestedAt.getTime()).toBeLessThanOrEqual(5 * 3_600_000 + 60_000);
    const audits = await requestedAudits(t);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      targetType: "backup",
      targetLabel: fileName,
      details: { destinationId, destination: "s3", storageClass: "GLACIER", readyBy: retrieval!.readyBy.toISOString() },
    });

    const second = await conflict(openDownload(t, id, "bytes=0-99"));
    expect(second.status).toBe(409);
    expect(second.message).toMatch(
      /^The archived copy of this backup in "s3" is being restored \(requested .+ UTC\)\. It should be readable in about 5 hours \(by .+ UTC\): download again then\.$/,
    );
    expect((await conflict(requestRetrieval(t, id))).message).toMatch(/is being restored/);
    expect(await requestedAudits(t)).toHaveLength(1); // not asked again
    expect([...(await archiveRetrievals(t, id)).values()]).toEqual([retrieval]);

    expect(await s3.finishRestores()).toBe(1);
    expect(await requestRetrieval(t, id)).toEqual({ ready: true });
    const d = await openDownload(t, id, null);
    expect(d.status).toBe(200);
    expect(sha(await read(d.body!))).toBe(archiveSha);
    expect((await openDownload(t, id, "bytes=100-199")).status).toBe(206);
    expect((await getBackup(t, id)).locations[0]!.storageClass).toBe("GLACIER"); // S3 restores a temporary copy
    expect(await requestedAudits(t)).toHaveLength(1);
    expect((await listAuditEvents(t, { action: "backup.downloaded" })).events.length).toBe(1); // one person's downloads
  });

  it("Azure Archive: the Download button's POST asks for rehydration to Cool, the next download says it is under way, then the bytes stream and the copy is Cool", async () => {
    const { t, id, destinationId, archiveSha } = await archivedBackup(
      azureConfig(`arc-${randomBytes(3).toString("hex")}`),
      "Archive",
    );
    expect((await conflict(openDownload(t, id, null))).message).toMatch(pressDownload);
    expect(await requestedAudits(t)).toHaveLength(0);
    const first = await conflict(requestRetrieval(t, id));
    expect(first.status).toBe(409);
    expect(first.message).toMatch(
      /^Every copy of this backup is in archive storage, so Coffer asked "azure" to restore its copy \(Archive\)\. It will be readable in about 15 hours \(by .+ UTC\): download again then\.$/,
    );
    expect(await requestedAudits(t)).toHaveLength(1);

    const second = await conflict(openDownload(t, id, null));
    expect(second.message).toMatch(
      /^The archived copy of this backup in "azure" is being restored \(requested .+ UTC\)\. It should be readable in about 15 hours/,
    );
    expect(await requestedAudits(t)).toHaveLength(1);

    expect(await azure.finishRehydrations()).toBe(1);
    expect(sha(await read((await openDownload(t, id, null)).body!))).toBe(archiveSha);
    // The blob left Archive: its row says so, and there is no retrieval to show any more.
    expect((await getBackup(t, id)).locations[0]!.storageClass).toBe("Cool");
    expect((await archiveRetrievals(t, id)).size).toBe(0);
    // Once the read is over, retention leaves it Cool for the week even where its tier is Archive:
    // archived again, a resumed download or a restore would need another paid rehydration.
    const d = await db();
    await d.update(backups).set({ readingUntil: null }).where(eq(backups.id, id));
    await d.update(storageDestinations).set({ classDaily: "Archive" }).where(eq(storageDestinations.id, destinationId));
    expect((await applyRetention(t.id, await scopeOfBackup(t.id, id))).transitioned).toBe(0);
    expect((await getBackup(t, id)).locations[0]!.storageClass).toBe("Cool");
  });

  it("verifying an archived backup asks for the retrieval the same way and says when to verify again; once readable it verifies", async () => {
    const { t, id } = await archivedBackup(s3Config(`arc-${randomBytes(3).toString("hex")}`), "GLACIER");
    const verifyNow = async () => {
      const { id: restoreId, serverId } = await requestVerification(t, { backupId: id });
      engine.send([restoreEvent({ teamId: t.id, serverId, restoreId, kind: "verify" })]);
      await engine.idle();
      return getRestore(t, restoreId);
    };
    const first = await verifyNow();
    expect(first).toMatchObject({
      status: "failed",
      attempts: 1,
      error: expect.stringMatching(
        /^Every copy of this backup is in archive storage, so Coffer asked "s3" to restore its copy \(GLACIER\)\. .+: verify it again then\.$/,
      ),
    });
    expect(await requestedAudits(t)).toHaveLength(1);
    await s3.finishRestores();
    expect(await verifyNow()).toMatchObject({ status: "succeeded", error: null, result: { differences: [] } });
    expect((await getBackup(t, id)).verifiedAt).toBeInstanceOf(Date);
  });

  it("a copy archived outside Coffer (a bucket lifecycle rule) is found out when S3 refuses to read it, and restored the same way", async () => {
    const config = s3Config(`arc-${randomBytes(3).toString("hex")}`);
    const { t, id, destinationId, archiveSha } = await archivedBackup(config, "GLACIER");
    await setLocationRow(id, destinationId, { storageClass: "STANDARD" }); // Coffer never learnt of the move
    expect((await conflict(openDownload(t, id, null))).message).toMatch(pressDownload);
    expect((await getBackup(t, id)).locations[0]!.storageClass).toBe("GLACIER");
    const first = await conflict(requestRetrieval(t, id));
    expect(first).toMatchObject({
      status: 409,
      message: expect.stringMatching(
        /^Every copy of this backup is in archive storage, so Coffer asked "s3" to restore its copy \(GLACIER\)\./,
      ),
    });
    expect((await getBackup(t, id)).locations[0]!.storageClass).toBe("GLACIER");
    expect(await requestedAudits(t)).toHaveLength(1);
    await s3.finishRestores();
    expect(sha(await read((await openDownload(t, id, null)).body!))).toBe(archiveSha);
  });
});

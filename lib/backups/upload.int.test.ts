import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createDestination } from "@/lib/destinations/mutations";
import { env } from "@/lib/env";
import { asAppError, httpStatus } from "@/lib/errors";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { signedUpUser } from "@/test/factories";
import { backupEvent } from "@/inngest/events";
import { inProcessEngine, type InProcessEngine } from "@/inngest/in-process";
import { requestBackup } from "./mutations";
import { getBackup, listBackups } from "./queries";
import { importUpload } from "./upload";

// Small limits, read when the configuration is first parsed (after this, before any test).
vi.hoisted(() => {
  process.env.UPLOAD_MAX_SIZE = "2MiB";
  process.env.LOCAL_STORAGE_QUOTA = "3MiB";
  delete process.env.UPLOAD_MAX_EXPANSION;
});

const MiB = 2 ** 20;
let engine: InProcessEngine;
let scratch: string;

beforeAll(async () => {
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  scratch = mkdtempSync(path.join(tmpdir(), "coffer-up-"));
});
afterAll(() => engine?.stop());

/** A team with a server and a "This host's disk" destination, and every file its backups left on that disk. */
async function uploader() {
  const user = await signedUpUser("Up");
  const t = await user.team("admin");
  const { id: serverId } = await createServer(t, { kind: "local", name: "this host", workDir: "/var/tmp" });
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix: "up" });
  const root = path.join(env().DATA_DIR, "storage", t.id);
  const files = () =>
    existsSync(root)
      ? readdirSync(root, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => e.name)
      : [];
  return { t, serverId, destinationId, files, input: { serverId, destinationIds: [destinationId], encrypted: false } };
}

/** A .tar.gz of `bytes` random bytes (so it is about that size compressed). */
function archiveOf(bytes: number): Buffer {
  const dir = mkdtempSync(path.join(scratch, "a-"));
  writeFileSync(path.join(dir, "data.bin"), randomBytes(bytes));
  return execFileSync("tar", ["czf", "-", "-C", dir, "data.bin"], { maxBuffer: 64 * MiB });
}

/** What the upload route answers for the error `attempt` ends in: its HTTP status and message. */
async function refusal(attempt: Promise<unknown>): Promise<{ status: number; message: string }> {
  const err = await attempt.then(
    () => new Error("the upload was accepted"),
    (e: unknown) => e,
  );
  const known = asAppError(err);
  if (!known) throw err;
  return { status: httpStatus[known.code], message: known.message };
}

describe("upload limits", () => {
  it("refuses a file larger than UPLOAD_MAX_SIZE with 413, at once when it says its size, and keeps nothing", async () => {
    const { t, input, files } = await uploader();
    const big = archiveOf(2.5 * MiB);
    const tooLarge = { status: 413, message: expect.stringMatching(/larger than 2\.0 MiB.*UPLOAD_MAX_SIZE/) };
    // Content-Length says so: refused before anything is stored.
    expect(await refusal(importUpload(t, input, Readable.from([big]), big.length))).toEqual(tooLarge);
    expect((await listBackups(t)).rows).toEqual([]);
    // Sent without a length, in pieces: cut off once 2 MiB have arrived; the backup failed saying why.
    const pieces = Array.from({ length: Math.ceil(big.length / 65536) }, (_, i) =>
      big.subarray(i * 65536, (i + 1) * 65536),
    );
    expect(await refusal(importUpload(t, input, Readable.from(pieces)))).toEqual(tooLarge);
    const [failed] = (await listBackups(t)).rows;
    expect(failed).toMatchObject({ status: "failed", error: expect.stringMatching(/larger than 2\.0 MiB/) });
    expect(files()).toEqual([]);
  });

  it("refuses a gzip bomb once it expands beyond UPLOAD_MAX_EXPANSION, without unpacking it whole or holding it in memory", async () => {
    const { t, input, files } = await uploader();
    // 4 GiB of zeros, compressed as they are read (about 4 MiB of gzip).
    let left = 4 * 2 ** 30;
    const zeros = Buffer.alloc(MiB);
    const bomb = new Readable({
      read() {
        this.push(left > 0 ? zeros : null);
        left -= zeros.length;
      },
    }).pipe(createGzip());
    const idle = process.memoryUsage().rss;
    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      expect(await refusal(importUpload(t, input, bomb))).toEqual({
        status: 413,
        message: expect.stringMatching(/expands to more than 200 times its size.*gzip bombs/),
      });
    } finally {
      clearInterval(sampler);
    }
    expect(left).toBeGreaterThan(3 * 2 ** 30); // it stopped reading early
    expect(peak - idle).toBeLessThan(150 * MiB);
    expect(files()).toEqual([]);
  });

  it("holds each team to LOCAL_STORAGE_QUOTA on this host's disk: uploads are cut off at it, Back up now is refused once it is full", async () => {
    const { t, input, files, serverId, destinationId } = await uploader();
    const first = archiveOf(1.6 * MiB);
    await importUpload(t, input, Readable.from([first]));
    const kept = files();
    expect(kept).toHaveLength(1);
    const overQuota = {
      status: 413,
      message: expect.stringMatching(/more than its quota of 3\.0 MiB \(1\.6 MiB stored/),
    };
    expect(await refusal(importUpload(t, input, Readable.from([archiveOf(1.6 * MiB)])))).toEqual(overQuota);
    expect(files()).toEqual(kept);

    // A backup made by Coffer counts too; once the quota is used up nothing more starts.
    const folder = mkdtempSync(path.join(scratch, "data-"));
    writeFileSync(path.join(folder, "blob.bin"), randomBytes(1.6 * MiB));
    const { id: sourceId } = await createSource(t, {
      serverId,
      kind: "directory",
      name: "blob",
      paths: [folder],
      excludes: [],
    });
    const backup = { serverId, sourceIds: [sourceId], destinationIds: [destinationId], encrypted: false };
    const { id } = await requestBackup(t, backup);
    engine.send([backupEvent({ teamId: t.id, serverId, backupId: id })]);
    await engine.idle();
    expect((await getBackup(t, id)).status).toBe("succeeded");
    const full = { status: 413, message: expect.stringMatching(/more than its quota of 3\.0 MiB/) };
    expect(await refusal(requestBackup(t, backup))).toEqual(full);
    expect(await refusal(importUpload(t, input, Readable.from([first]), first.length))).toEqual(full);
    expect(files()).toHaveLength(2);
  });
});

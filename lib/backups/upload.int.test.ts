import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { ReadableStream } from "node:stream/web";
import { createGzip } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createDestination } from "@/lib/destinations/mutations";
import { env } from "@/lib/env";
import { asAppError, httpStatus } from "@/lib/errors";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { insertBackupRow, insertLocationRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { backupEvent } from "@/inngest/events";
import { inProcessEngine, type InProcessEngine } from "@/inngest/in-process";
import { requestBackup } from "./mutations";
import { getBackup, listBackups } from "./queries";
import { sweepStaleRunsAllTeams } from "./sweep";
import { importUpload } from "./upload";

// Small limits, read when the configuration is first parsed (after this, before any test).
vi.hoisted(() => {
  process.env.UPLOAD_MAX_SIZE = "2MiB";
  process.env.LOCAL_STORAGE_QUOTA = "3MiB";
  delete process.env.UPLOAD_MAX_EXPANSION;
  process.env.UPLOAD_IDLE_TIMEOUT = "1";
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

/**
 * A request body as the route reads it (a web stream through `Readable.fromWeb`), sending what
 * `chunks` yields when it yields it; `cancelled` turns true when Coffer cancels it.
 */
function requestBody(chunks: AsyncGenerator<Buffer>) {
  const seen = { cancelled: false };
  const web = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await chunks.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: () => void (seen.cancelled = true),
  });
  return { body: Readable.fromWeb(web), seen };
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

  it("refuses an upload that stalls with 408 after UPLOAD_IDLE_TIMEOUT, cancels its body and keeps nothing", async () => {
    const { t, input, files } = await uploader();
    const start = archiveOf(256 * 1024).subarray(0, 16 * 1024); // a valid gzip start, then nothing more
    const { body, seen } = requestBody(
      (async function* () {
        yield start;
        await new Promise(() => {}); // the client never sends another byte
      })(),
    );
    const idle = process.memoryUsage().rss;
    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const began = performance.now();
    try {
      expect(await refusal(importUpload(t, input, body))).toEqual({
        status: 408,
        message: expect.stringMatching(/Nothing arrived for 1 second.*UPLOAD_IDLE_TIMEOUT.*upload it again/),
      });
    } finally {
      clearInterval(sampler);
    }
    const took = performance.now() - began;
    expect(took).toBeGreaterThan(900);
    expect(took).toBeLessThan(5000); // about the timeout, not forever
    expect(seen.cancelled).toBe(true);
    const [failed] = (await listBackups(t)).rows;
    expect(failed).toMatchObject({ status: "failed", error: expect.stringMatching(/Nothing arrived for 1 second/) });
    expect(peak - idle).toBeLessThan(150 * MiB);
    expect(files()).toEqual([]);
  });

  it("accepts a slow but steady upload that takes longer than UPLOAD_IDLE_TIMEOUT in all", async () => {
    const { t, input, files } = await uploader();
    const archive = archiveOf(512 * 1024);
    const piece = Math.ceil(archive.length / 12);
    const { body } = requestBody(
      (async function* () {
        for (let at = 0; at < archive.length; at += piece) {
          await sleep(200); // 12 pieces, 200 ms apart: about 2.4 s
          yield archive.subarray(at, at + piece);
        }
      })(),
    );
    const began = performance.now();
    const { id, sizeBytes } = await importUpload(t, input, body);
    expect(performance.now() - began).toBeGreaterThan(2000);
    expect(sizeBytes).toBe(archive.length);
    expect((await getBackup(t, id)).status).toBe("succeeded");
    expect(files()).toHaveLength(1);
  });

  it("holds each team to LOCAL_STORAGE_QUOTA on this host's disk: uploads and backups are cut off at it, Back up now is refused once it is full", async () => {
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

    // A backup of a server counts too, as it writes: with no earlier backup to go by, it starts,
    // and is stopped once it would pass the quota (a scheduled run the same).
    const backUpFolder = async (bytes: number) => {
      const folder = mkdtempSync(path.join(scratch, "data-"));
      writeFileSync(path.join(folder, "blob.bin"), randomBytes(bytes));
      const { id: sourceId } = await createSource(t, {
        serverId,
        kind: "directory",
        name: `blob-${bytes}`,
        paths: [folder],
        excludes: [],
      });
      return { serverId, sourceIds: [sourceId], destinationIds: [destinationId], encrypted: false };
    };
    const run = async (backup: Awaited<ReturnType<typeof backUpFolder>>) => {
      const { id } = await requestBackup(t, backup);
      engine.send([backupEvent({ teamId: t.id, serverId, backupId: id })]);
      await engine.idle();
      return getBackup(t, id);
    };
    const tooBig = await run(await backUpFolder(2 * MiB));
    expect(tooBig).toMatchObject({
      status: "failed",
      attempts: 1, // not retried: it would only reach the quota again
      error: expect.stringMatching(
        /more than its quota of 3\.0 MiB \(1\.6 MiB stored or being uploaded, and this backup had reached 1\.\d MiB\)/,
      ),
    });
    expect(files()).toEqual(kept);

    const small = await backUpFolder(1.2 * MiB);
    expect((await run(small)).status).toBe("succeeded");
    expect(files()).toHaveLength(2);
    // The next one of those sources is expected at the last one's size, which no longer fits: refused before anything is dumped.
    const refused = await run(small);
    expect(refused).toMatchObject({
      status: "failed",
      error: expect.stringMatching(/more than its quota of 3\.0 MiB \(2\.8 MiB stored or being uploaded\)/),
    });
    expect(refused.log.some((l) => l.message.startsWith("Writing to"))).toBe(false);
    expect(await refusal(importUpload(t, input, Readable.from([first]), first.length))).toMatchObject({ status: 413 });
    expect(files()).toHaveLength(2);

    // Once the quota is used up (here by a copy stored meanwhile), Back up now is refused at once.
    const filler = await insertBackupRow({
      teamId: t.id,
      serverId,
      trigger: "upload",
      status: "succeeded",
      encrypted: false,
      fileName: "filler.tar.gz",
      destinationIds: [destinationId],
    });
    await insertLocationRow({
      teamId: t.id,
      backupId: filler,
      destinationId,
      objectKey: "filler",
      status: "stored",
      sizeBytes: MiB,
    });
    const full = { status: 413, message: expect.stringMatching(/more than its quota of 3\.0 MiB/) };
    expect(await refusal(requestBackup(t, small))).toEqual(full);
  });

  it("lets two uploads at once share the quota: the second is refused with 413 while the first still streams, and keeps nothing", async () => {
    const { t, input, files } = await uploader();
    const [a, b] = [archiveOf(1.8 * MiB), archiveOf(1.8 * MiB)];
    // Each alone fits the 3 MiB quota; together they do not. Both start before either has finished.
    const slow = (archive: Buffer) =>
      requestBody(
        (async function* () {
          for (let at = 0; at < archive.length; at += 256 * 1024) {
            await sleep(50);
            yield archive.subarray(at, at + 256 * 1024);
          }
        })(),
      ).body;
    const [first, second] = await Promise.allSettled([
      importUpload(t, input, slow(a), a.length),
      sleep(20).then(() => importUpload(t, input, slow(b), b.length)),
    ]);
    expect(first.status).toBe("fulfilled");
    expect(await refusal(second.status === "rejected" ? Promise.reject(second.reason) : Promise.resolve())).toEqual({
      status: 413,
      message: expect.stringMatching(/more than its quota of 3\.0 MiB \(1\.8 MiB stored or being uploaded\)/),
    });
    const { rows } = await listBackups(t);
    expect(rows.map((r) => r.status)).toEqual(["succeeded"]);
    expect(files()).toHaveLength(1);
    // Finished, the upload's reservation is released: what counts now is the copy it stored.
    expect(await refusal(importUpload(t, input, Readable.from([b]), b.length))).toEqual({
      status: 413,
      message: expect.stringMatching(/\(1\.8 MiB stored or being uploaded\)/),
    });
    await importUpload(t, input, Readable.from([archiveOf(512 * 1024)]));
    expect(files()).toHaveLength(2);
  });

  it("releases the room an upload held when its process died, once the sweeper fails the run", async () => {
    const { t, input, serverId, destinationId, files } = await uploader();
    // An upload a dead process left running: 2 MiB held, no progress for ten minutes.
    await insertBackupRow({
      teamId: t.id,
      serverId,
      trigger: "upload",
      status: "running",
      encrypted: false,
      fileName: "gone.tar.gz",
      reservedBytes: 2 * MiB,
      heartbeatAt: new Date(Date.now() - 10 * 60_000),
      destinationIds: [destinationId],
    });
    const archive = archiveOf(1.5 * MiB);
    expect(await refusal(importUpload(t, input, Readable.from([archive]), archive.length))).toEqual({
      status: 413,
      message: expect.stringMatching(/\(2\.0 MiB stored or being uploaded\)/),
    });
    await sweepStaleRunsAllTeams();
    await importUpload(t, input, Readable.from([archive]), archive.length);
    expect(files()).toHaveLength(1);
  });
});

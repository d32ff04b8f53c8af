import { BlobServiceClient } from "@azure/storage-blob";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { makeGuardedAgents } from "@/lib/net/guarded-agent";
import { startAzurite, type AzuriteServer } from "../../test/servers/azurite";
import { startGcsServer, type GcsServer } from "../../test/servers/gcs-server";
import { startS3rver, type S3rverServer } from "../../test/servers/s3rver";
import { freePort } from "../../test/ports";
import { generatedSource, hashStream, rssMeter } from "../../test/streams";
import { createAdapter, probeStorage, type StorageAdapter, type StorageConfig, type StorageKind } from "./index";
import { parseRestoreHeader } from "./s3";

const MiB = 1024 * 1024;
const BIG = 200 * MiB;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function keys(adapter: StorageAdapter, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of adapter.list(prefix)) out.push(o.key);
  return out.sort();
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

interface Harness {
  config(prefix: string): StorageConfig;
  /** Two classes to move between, or null (local disk). */
  classes: [string, string] | null;
  /** The destination points at a bucket / container / folder that does not exist. */
  missingBucket(): StorageConfig;
  badCredentials?(): StorageConfig;
  unreachable?(port: number): StorageConfig;
  /** Strings no error message may contain. */
  secrets: string[];
  stop(): Promise<void>;
}

type Kind = Exclude<StorageKind, "server">; // server directories are tested with lib/reach

const harnesses: Record<Kind, () => Promise<Harness>> = {
  async local() {
    const root = mkdtempSync(path.join(tmpdir(), "coffer-local-"));
    return {
      config: (prefix) => ({ kind: "local", root, prefix }),
      classes: null,
      missingBucket: () => ({ kind: "local", root: path.join(root, "does-not-exist") }),
      secrets: [],
      stop: async () => rmSync(root, { recursive: true, force: true }),
    };
  },

  async s3() {
    const s: S3rverServer = await startS3rver();
    const base = { kind: "s3" as const, region: s.region, forcePathStyle: true, accessKeyId: s.accessKeyId };
    const badSecret = `wrong-${randomBytes(12).toString("hex")}`;
    return {
      config: (prefix) => ({
        ...base,
        bucket: s.bucket,
        endpoint: s.endpoint,
        secretAccessKey: s.secretAccessKey,
        prefix,
      }),
      classes: ["STANDARD_IA", "GLACIER"],
      missingBucket: () => ({
        ...base,
        bucket: "no-such-bucket",
        endpoint: s.endpoint,
        secretAccessKey: s.secretAccessKey,
      }),
      badCredentials: () => ({ ...base, bucket: s.bucket, endpoint: s.endpoint, secretAccessKey: badSecret }),
      unreachable: (port) => ({
        ...base,
        bucket: s.bucket,
        endpoint: `http://127.0.0.1:${port}`,
        secretAccessKey: s.secretAccessKey,
      }),
      secrets: [badSecret],
      stop: () => s.stop(),
    };
  },

  async gcs() {
    const s: GcsServer = await startGcsServer();
    const bad = s.wrongCredentials();
    const keyLines = (pem: string) => pem.split("\n").filter((l) => l.length > 20 && !l.includes("-----"));
    return {
      config: (prefix) => ({
        kind: "gcs",
        bucket: s.bucket,
        apiEndpoint: s.apiEndpoint,
        credentials: s.credentials,
        prefix,
      }),
      classes: ["NEARLINE", "COLDLINE"],
      missingBucket: () => ({
        kind: "gcs",
        bucket: "no-such-bucket",
        apiEndpoint: s.apiEndpoint,
        credentials: s.credentials,
      }),
      badCredentials: () => ({ kind: "gcs", bucket: s.bucket, apiEndpoint: s.apiEndpoint, credentials: bad }),
      unreachable: (port) => ({
        kind: "gcs",
        bucket: s.bucket,
        apiEndpoint: `http://127.0.0.1:${port}`,
        credentials: s.credentials,
      }),
      secrets: [
        "PRIVATE KEY",
        ...keyLines(s.credentials.private_key),
        ...keyLines(bad.private_key),
        s.credentials.private_key_id,
      ],
      stop: () => s.stop(),
    };
  },

  async azure() {
    const s: AzuriteServer = await startAzurite();
    const container = "coffer-test";
    await BlobServiceClient.fromConnectionString(s.connectionString).getContainerClient(container).create();
    const badKey = randomBytes(64).toString("base64");
    return {
      // Two ways in: the connection string, and account name + key + endpoint.
      config: (prefix) =>
        prefix.includes("alt")
          ? {
              kind: "azure",
              container,
              accountName: s.accountName,
              accountKey: s.accountKey,
              endpoint: s.endpoint,
              prefix,
            }
          : { kind: "azure", container, connectionString: s.connectionString, prefix },
      classes: ["Cool", "Cold"],
      missingBucket: () => ({ kind: "azure", container: "no-such-container", connectionString: s.connectionString }),
      badCredentials: () => ({
        kind: "azure",
        container,
        accountName: s.accountName,
        accountKey: badKey,
        endpoint: s.endpoint,
      }),
      unreachable: (port) => ({
        kind: "azure",
        container,
        accountName: s.accountName,
        accountKey: s.accountKey,
        endpoint: `http://127.0.0.1:${port}/${s.accountName}`,
      }),
      secrets: [s.accountKey, badKey],
      stop: () => s.stop(),
    };
  },
};

const figures: string[] = [];
const messages: string[] = [];
afterAll(() => {
  if (figures.length)
    console.log(`\nStorage 200 MB transfers (RSS of the test process):\n${figures.map((f) => `  ${f}`).join("\n")}\n`);
  if (messages.length) console.log(`Mapped error messages:\n${messages.map((m) => `  ${m}`).join("\n")}\n`);
});

describe.each(Object.keys(harnesses) as Kind[])("%s adapter", (kind) => {
  let h: Harness;
  let adapter: StorageAdapter;

  beforeAll(async () => {
    h = await harnesses[kind]();
    adapter = createAdapter(h.config("coffer/tests"));
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("round-trips 0-byte and 1-byte objects", async () => {
    for (const data of [Buffer.alloc(0), Buffer.from([0x2a])]) {
      const key = `tiny/${data.length}.bin`;
      const stored = await adapter.put(key, Readable.from(data.length ? [data] : []));
      expect(stored).toEqual({ size: data.length, sha256: sha256(data) }); // one request: no parts
      const back = await readAll(await adapter.get(key));
      expect(sha256(back)).toBe(stored.sha256);
      expect((await adapter.head(key))?.size).toBe(data.length);
    }
  });

  it("streams a 200 MB object up and down with flat memory", async () => {
    const src = generatedSource(BIG);
    let t = performance.now();
    let stop = rssMeter();
    const stored = await adapter.put("big/200mb.bin", src.stream);
    const up = stop();
    const upSeconds = (performance.now() - t) / 1000;
    expect(stored.size).toBe(BIG);
    expect(stored.sha256).toBe(src.sha256());

    t = performance.now();
    stop = rssMeter();
    const back = await hashStream(await adapter.get("big/200mb.bin"));
    const down = stop();
    const downSeconds = (performance.now() - t) / 1000;
    expect(back).toEqual({ size: stored.size, sha256: stored.sha256 });
    expect((await adapter.head("big/200mb.bin"))?.size).toBe(BIG);

    figures.push(
      `${kind.padEnd(5)} put ${upSeconds.toFixed(1)} s, RSS ${up.baseMB} → peak ${up.peakMB} MB (+${up.growthMB}); ` +
        `get ${downSeconds.toFixed(1)} s, RSS ${down.baseMB} → peak ${down.peakMB} MB (+${down.growthMB})`,
    );
    expect(up.growthMB).toBeLessThan(150);
    expect(down.growthMB).toBeLessThan(150);
    await adapter.delete("big/200mb.bin");
  });

  it("returns exactly the bytes of a range", async () => {
    const data = randomBytes(MiB + 123);
    await adapter.put("range/obj.bin", Readable.from([data]));
    const last = data.length - 1;
    for (const [start, end] of [
      [0, 0],
      [0, 9],
      [100, 100 + 65_535],
      [MiB - 7, MiB + 50],
      [last, last],
      [last - 9, undefined],
      [12_345, undefined],
    ] as [number, number | undefined][]) {
      const got = await readAll(await adapter.get("range/obj.bin", { range: { start, end } }));
      expect(
        got.equals(data.subarray(start, end === undefined ? undefined : end + 1)),
        `range ${start}-${end ?? ""}`,
      ).toBe(true);
    }
    await expect(adapter.get("range/obj.bin", { range: { start: 10, end: 5 } })).rejects.toMatchObject({
      code: "VALIDATION",
    });
  });

  it("leaves nothing behind when the source fails half-way", async () => {
    const src = generatedSource(100 * MiB, { failAfter: 20 * MiB });
    const err = await rejection(adapter.put("failed/source.bin", src.stream));
    expect((err as Error).message).toBe("source failed on purpose");
    expect(await keys(adapter, "failed/")).toEqual([]);
    expect(await adapter.head("failed/source.bin")).toBeNull();
  });

  it("leaves nothing behind when the upload is aborted, and keeps an older object intact", async () => {
    const old = randomBytes(1000);
    await adapter.put("aborted/obj.bin", Readable.from([old]));
    const controller = new AbortController();
    const reason = new Error("cancelled by the test");
    const src = generatedSource(100 * MiB, { onProgress: (sent) => sent >= 20 * MiB && controller.abort(reason) });
    const err = await rejection(adapter.put("aborted/obj.bin", src.stream, { signal: controller.signal }));
    expect(err).toBe(reason);
    expect(src.stream.destroyed).toBe(true);
    const err2 = await rejection(
      adapter.put(
        "aborted/new.bin",
        generatedSource(100 * MiB, { onProgress: (s) => s >= 12 * MiB && controller.abort() }).stream,
        { signal: controller.signal },
      ),
    );
    expect(err2).toBe(reason); // already aborted
    expect(await keys(adapter, "aborted/")).toEqual(["aborted/obj.bin"]);
    expect(await adapter.head("aborted/new.bin")).toBeNull();
    expect(sha256(await readAll(await adapter.get("aborted/obj.bin")))).toBe(sha256(old));
  });

  it("lists by prefix and deletes idempotently", async () => {
    for (const key of ["list/a.bin", "list/b/c.bin", "list/b/d.bin", "list2/x.bin"])
      await adapter.put(key, Readable.from([Buffer.from(key)]));
    expect(await keys(adapter, "list/")).toEqual(["list/a.bin", "list/b/c.bin", "list/b/d.bin"]);
    expect(await keys(adapter, "list/b/")).toEqual(["list/b/c.bin", "list/b/d.bin"]);
    expect(await keys(adapter, "list")).toEqual(["list/a.bin", "list/b/c.bin", "list/b/d.bin", "list2/x.bin"]);
    expect(await keys(adapter, "list/b/c")).toEqual(["list/b/c.bin"]);
    const infos = [];
    for await (const o of adapter.list("list/a")) infos.push(o);
    expect(infos).toMatchObject([{ key: "list/a.bin", size: "list/a.bin".length }]);

    await adapter.delete("list/a.bin");
    await adapter.delete("list/a.bin");
    await adapter.delete("list/never-existed.bin");
    expect(await keys(adapter, "list/")).toEqual(["list/b/c.bin", "list/b/d.bin"]);

    // Another destination prefix in the same bucket sees none of it.
    const other = createAdapter(h.config("coffer/other-alt"));
    expect(await keys(other, "")).toEqual([]);
    await other.put("list/a.bin", Readable.from([Buffer.from("other")]));
    expect(await keys(other, "")).toEqual(["list/a.bin"]);
    expect(await adapter.head("list/a.bin")).toBeNull();
  });

  it("changes the storage class", async () => {
    const data = randomBytes(4096);
    if (!h.classes) {
      await adapter.put("class/obj.bin", Readable.from([data]), { storageClass: "whatever" });
      await adapter.setStorageClass("class/obj.bin", "anything");
      expect((await adapter.head("class/obj.bin"))?.storageClass).toBeUndefined();
      await expect(adapter.setStorageClass("class/missing.bin", "x")).rejects.toMatchObject({ code: "NOT_FOUND" });
      return;
    }
    const [first, second] = h.classes;
    await adapter.put("class/obj.bin", Readable.from([data]), { storageClass: first.toLowerCase() });
    expect((await adapter.head("class/obj.bin"))?.storageClass).toBe(first);
    await adapter.setStorageClass("class/obj.bin", second);
    expect((await adapter.head("class/obj.bin"))?.storageClass).toBe(second);
    const listed = [];
    for await (const o of adapter.list("class/")) listed.push(o);
    expect(listed).toMatchObject([{ key: "class/obj.bin", size: 4096, storageClass: second }]);
    expect(sha256(await readAll(await adapter.get("class/obj.bin")))).toBe(sha256(data));
    await expect(adapter.setStorageClass("class/obj.bin", "FROZEN")).rejects.toMatchObject({ code: "VALIDATION" });
    await expect(adapter.setStorageClass("class/missing.bin", second)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(adapter.put("class/bad.bin", Readable.from([data]), { storageClass: "FROZEN" })).rejects.toMatchObject(
      { code: "VALIDATION" },
    );
  });

  it("refuses keys that escape the destination", async () => {
    for (const key of ["../x", "a/../../x", "/etc/passwd", "a//b", "", "a/./b", "a\\b"]) {
      await expect(adapter.put(key, Readable.from([Buffer.from("x")])), key).rejects.toMatchObject({
        code: "VALIDATION",
      });
      await expect(adapter.get(key), key).rejects.toMatchObject({ code: "VALIDATION" });
    }
  });

  it("passes Test destination and leaves no probe behind", async () => {
    const result = await probeStorage(adapter);
    expect(result.ok).toBe(true);
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(await keys(adapter, ".coffer-probe/")).toEqual([]);
  });

  function expectClean(err: unknown) {
    expect(err).toBeInstanceOf(AppError);
    messages.push(`${kind.padEnd(5)} ${(err as AppError).code}: ${(err as AppError).message}`);
    for (const s of h.secrets) expect((err as Error).message).not.toContain(s);
  }

  it("says when the bucket does not exist", async () => {
    const err = await rejection(probeStorage(createAdapter(h.missingBucket())));
    expectClean(err);
    expect((err as AppError).message).toMatch(/does not exist/);
    expect((err as AppError).message).toMatch(/no-such-|does-not-exist/);
  });

  // The local disk has neither credentials nor an endpoint: these two exist for the network providers only.
  if (kind !== "local")
    it("says when the credentials are wrong", async () => {
      const err = await rejection(probeStorage(createAdapter(h.badCredentials!())));
      expectClean(err);
      expect((err as AppError).message).toMatch(/secret access key|service-account key|rejected the credentials/);
    });

  if (kind !== "local")
    it("says when the endpoint is unreachable", async () => {
      const port = await freePort();
      const started = performance.now();
      const err = await rejection(probeStorage(createAdapter(h.unreachable!(port))));
      expectClean(err);
      expect((err as AppError).message).toContain(`Cannot reach`);
      expect((err as AppError).message).toContain(`127.0.0.1:${port}`);
      expect((err as AppError).message).toContain("connection refused");
      expect(performance.now() - started).toBeLessThan(30_000);
    });

  if (kind !== "local")
    it("fails, rather than waits for ever, when the endpoint takes the connection and then sends nothing", async () => {
      const silent = createNetServer((socket) => socket.on("data", () => {})); // reads, never answers
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const port = (silent.address() as AddressInfo).port;
      const agents = makeGuardedAgents(true, 300);
      try {
        const started = performance.now();
        const err = await rejection(
          createAdapter(h.unreachable!(port), { agents }).put("silent.bin", Readable.from([randomBytes(1024)])),
        );
        expectClean(err);
        expect(performance.now() - started).toBeLessThan(60_000);
      } finally {
        agents.http.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    }, 90_000);
});

describe("s3 adapter, objects above the CopyObject limit", () => {
  let s: S3rverServer;
  beforeAll(async () => {
    s = await startS3rver();
  });
  afterAll(async () => {
    await s?.stop();
  });

  it("changes the storage class with a multipart copy and keeps bytes and metadata", async () => {
    const adapter = createAdapter(
      {
        kind: "s3",
        bucket: s.bucket,
        region: s.region,
        endpoint: s.endpoint,
        accessKeyId: s.accessKeyId,
        secretAccessKey: s.secretAccessKey,
        prefix: "mp",
      },
      { s3: { copyObjectMaxBytes: MiB, copyPartSize: 5 * MiB } },
    );
    const src = generatedSource(12 * MiB + 17);
    const stored = await adapter.put("obj.bin", src.stream);
    await adapter.setStorageClass("obj.bin", "GLACIER");
    const head = await adapter.head("obj.bin");
    expect(head).toMatchObject({ size: 12 * MiB + 17, storageClass: "GLACIER" });
    expect(await hashStream(await adapter.get("obj.bin"))).toEqual({ size: stored.size, sha256: stored.sha256 });
  });

  it("maps a wrong access key id", async () => {
    const adapter = createAdapter({
      kind: "s3",
      bucket: s.bucket,
      region: s.region,
      endpoint: s.endpoint,
      accessKeyId: "AKIAWRONG",
      secretAccessKey: s.secretAccessKey,
    });
    await expect(probeStorage(adapter)).rejects.toThrow(/does not recognise the access key ID/);
  });
});

describe("createAdapter", () => {
  it("refuses incomplete settings with per-field messages", () => {
    const cases: [unknown, string][] = [
      [{ kind: "local", root: "relative/path" }, "root"],
      [{ kind: "s3", bucket: "b", region: "us-east-1", accessKeyId: "a" }, "secretAccessKey"],
      [
        { kind: "s3", bucket: "b", region: "us-east-1", accessKeyId: "a", secretAccessKey: "s", endpoint: "ftp://x" },
        "endpoint",
      ],
      [{ kind: "gcs", bucket: "b" }, "credentials"],
      [{ kind: "gcs", bucket: "b", apiEndpoint: "https://storage.googleapis.com" }, "credentials"],
      [
        {
          kind: "gcs",
          bucket: "b",
          credentials: { type: "external_account", client_email: "x@y", private_key: "-----BEGIN PRIVATE KEY-----" },
        },
        "credentials.type",
      ],
      [{ kind: "azure", container: "c" }, "connectionString"],
      [{ kind: "ftp" }, "kind"],
    ];
    for (const [config, field] of cases) {
      let err: unknown;
      try {
        createAdapter(config as StorageConfig);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(config)).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe("VALIDATION");
      expect(Object.keys((err as AppError).fieldErrors ?? {}), JSON.stringify(config)).toContain(field);
    }
  });
});

describe("retrieve (archive classes)", () => {
  it("reads S3's x-amz-restore header", () => {
    expect(parseRestoreHeader(undefined)).toBeNull();
    expect(parseRestoreHeader('ongoing-request="true"')).toEqual({ ongoing: true });
    expect(parseRestoreHeader('ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"')).toEqual({
      ongoing: false,
      expiry: new Date("2012-12-21T00:00:00Z"),
    });
    expect(parseRestoreHeader("something else")).toBeNull();
  });

  it("s3: a GLACIER object is refused until restored; one RestoreObject, then it reads for the days asked", async () => {
    const s = await startS3rver({ refuseArchivedReads: true });
    try {
      const adapter = createAdapter({
        kind: "s3",
        bucket: s.bucket,
        region: s.region,
        endpoint: s.endpoint,
        accessKeyId: s.accessKeyId,
        secretAccessKey: s.secretAccessKey,
        prefix: "ret",
      });
      const data = randomBytes(300_000);
      await adapter.put("cold.bin", Readable.from([data]), { storageClass: "GLACIER" });
      await adapter.put("warm.bin", Readable.from([data]), { storageClass: "STANDARD_IA" });
      expect(await adapter.retrieve("warm.bin")).toEqual({ state: "ready", storageClass: "STANDARD_IA" });
      const refused = await rejection(adapter.get("cold.bin"));
      expect(refused).toMatchObject({
        code: "CONFLICT",
        message: expect.stringMatching(/is in archive storage and must be restored/),
      });

      expect(await adapter.retrieve("cold.bin", { request: false })).toEqual({
        state: "archived",
        storageClass: "GLACIER",
      });
      const asked = Date.now();
      const requested = await adapter.retrieve("cold.bin", { days: 2 });
      expect(requested).toMatchObject({ state: "requested", storageClass: "GLACIER" });
      expect(requested.readyBy!.getTime() - asked).toBeGreaterThanOrEqual(5 * 3_600_000 - 1000);
      expect(requested.readyBy!.getTime() - asked).toBeLessThan(5 * 3_600_000 + 60_000);
      // Asking again while S3 works on it requests nothing more.
      expect(await adapter.retrieve("cold.bin")).toEqual({ state: "in-progress", storageClass: "GLACIER" });
      expect(await rejection(adapter.get("cold.bin"))).toMatchObject({ code: "CONFLICT" });

      expect(await s.finishRestores()).toBe(1);
      const ready = await adapter.retrieve("cold.bin");
      expect(ready).toMatchObject({ state: "ready", storageClass: "GLACIER" });
      expect(ready.readableUntil!.getTime() - Date.now()).toBeGreaterThan(2 * 86_400_000 - 120_000); // HTTP dates have whole seconds
      expect(sha256(await readAll(await adapter.get("cold.bin")))).toBe(sha256(data));
      expect(
        (await readAll(await adapter.get("cold.bin", { range: { start: 10, end: 19 } }))).equals(data.subarray(10, 20)),
      ).toBe(true);
      expect((await adapter.head("cold.bin"))?.storageClass).toBe("GLACIER"); // a restore is a temporary copy; the object stays archived

      await expect(adapter.retrieve("missing.bin")).rejects.toMatchObject({ code: "NOT_FOUND" });
    } finally {
      await s.stop();
    }
  });

  it("azure: an Archive blob is refused until rehydrated; one Set Blob Tier to Cool, then it reads", async () => {
    const s = await startAzurite({ rehydration: "pending" });
    try {
      await BlobServiceClient.fromConnectionString(s.connectionString).getContainerClient("ret").create();
      const adapter = createAdapter({ kind: "azure", container: "ret", connectionString: s.connectionString });
      const data = randomBytes(300_000);
      await adapter.put("cold.bin", Readable.from([data]), { storageClass: "Archive" });
      await adapter.put("warm.bin", Readable.from([data]), { storageClass: "Cold" });
      expect(await adapter.retrieve("warm.bin")).toEqual({ state: "ready", storageClass: "Cold" });
      expect(await rejection(adapter.get("cold.bin"))).toMatchObject({
        code: "CONFLICT",
        message: expect.stringMatching(/is in archive storage/),
      });

      expect(await adapter.retrieve("cold.bin", { request: false })).toEqual({
        state: "archived",
        storageClass: "Archive",
      });
      const asked = Date.now();
      const requested = await adapter.retrieve("cold.bin");
      expect(requested).toMatchObject({ state: "requested", storageClass: "Archive" });
      expect(requested.readyBy!.getTime() - asked).toBeGreaterThanOrEqual(15 * 3_600_000 - 1000);
      expect(requested.readyBy!.getTime() - asked).toBeLessThan(15 * 3_600_000 + 60_000);
      expect(await adapter.retrieve("cold.bin")).toEqual({ state: "in-progress", storageClass: "Archive" });
      expect(await rejection(adapter.get("cold.bin"))).toMatchObject({ code: "CONFLICT" });

      expect(await s.finishRehydrations()).toBe(1);
      expect(await adapter.retrieve("cold.bin")).toEqual({ state: "ready", storageClass: "Cool" });
      expect(sha256(await readAll(await adapter.get("cold.bin")))).toBe(sha256(data));
      await expect(adapter.retrieve("missing.bin")).rejects.toMatchObject({ code: "NOT_FOUND" });
    } finally {
      await s.stop();
    }
  });

  it("gcs ARCHIVE and the local disk read directly", async () => {
    const g = await startGcsServer();
    const root = mkdtempSync(path.join(tmpdir(), "coffer-ret-"));
    try {
      const gcsAdapter = createAdapter({
        kind: "gcs",
        bucket: g.bucket,
        apiEndpoint: g.apiEndpoint,
        credentials: g.credentials,
      });
      await gcsAdapter.put("a.bin", Readable.from([Buffer.from("gcs")]), { storageClass: "ARCHIVE" });
      expect(await gcsAdapter.retrieve("a.bin")).toEqual({ state: "ready", storageClass: "ARCHIVE" });
      await expect(gcsAdapter.retrieve("missing.bin")).rejects.toMatchObject({ code: "NOT_FOUND" });
      const disk = createAdapter({ kind: "local", root });
      await disk.put("a.bin", Readable.from([Buffer.from("disk")]));
      expect(await disk.retrieve("a.bin")).toEqual({ state: "ready" });
      await expect(disk.retrieve("missing.bin")).rejects.toMatchObject({ code: "NOT_FOUND" });
    } finally {
      await g.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { Readable } from "node:stream";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storageDestinations } from "@/db/schema";
import { insertBackupRow, insertLocationRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { call } from "@/test/api-client";
import { startAzurite, type AzuriteServer } from "@/test/servers/azurite";
import { startGcsServer, type GcsServer } from "@/test/servers/gcs-server";
import { startS3rver, type S3rverServer } from "@/test/servers/s3rver";
import { startSshd, type TestSshd } from "@/test/servers/sshd";
import { freePort } from "@/test/ports";
import type { StorageConfig } from "../storage";
import * as destinationsRoute from "@/app/api/v1/destinations/route";
import { createApiToken } from "../api-tokens/tokens";
import { listAuditEvents } from "../audit/queries";
import { db } from "../db";
import { env } from "../env";
import { AppError } from "../errors";
import { createServer } from "../servers/mutations";
import { openDownload } from "../backups/download";
import { importUpload } from "../backups/upload";
import { acceptInvitation, createInvitation } from "../teams/invitations";
import { teamForUser } from "../teams/context";
import { createDestination, deleteDestination, updateDestination } from "./mutations";
import { getDestination, listDestinations } from "./queries";
import { testDestination } from "./use";

let s3: S3rverServer;
let gcs: GcsServer;
let azure: AzuriteServer;
let sshd: TestSshd;
const code = (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (e: unknown) => (e instanceof AppError ? e.code : `unexpected: ${String(e)}`),
  );

beforeAll(async () => {
  [s3, gcs, azure, sshd] = await Promise.all([startS3rver(), startGcsServer(), startAzurite(), startSshd()]);
});
afterAll(async () => {
  await Promise.all([s3?.stop(), gcs?.stop(), azure?.stop(), sshd?.stop()]);
});

const s3Input = (over: Record<string, string | boolean> = {}) => ({
  kind: "s3" as const,
  name: `s3-${Math.random().toString(36).slice(2, 8)}`,
  bucket: s3.bucket,
  prefix: "coffer",
  region: s3.region,
  endpoint: s3.endpoint,
  forcePathStyle: true,
  accessKeyId: s3.accessKeyId,
  secretAccessKey: s3.secretAccessKey,
  ...over,
});

describe("storage destinations", () => {
  it("local disk: a folder per team inside the data folder, tested with a probe object", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    const { id } = await createDestination(t, { kind: "local", name: "here", prefix: "nightly" });
    const result = await testDestination(t, id);
    expect(result).toMatchObject({ ok: true });
    expect(result.message).toMatch(
      /^Wrote, read back, verified and deleted a probe object in \d+ ms; has [\d.]+ [KMGT]iB free\.$/,
    );
    // Where the data folder is stays unsaid to members.
    expect(result.facts).toMatchObject({ limits: "the disk holding this team's folder on the Coffer host" });
    const folder = path.resolve(env().DATA_DIR, "storage", t.id, "nightly");
    expect(existsSync(folder)).toBe(true);
    expect(readdirSync(path.join(folder, ".coffer-probe"))).toEqual([]); // the probe is gone
    expect(await getDestination(t, id)).toMatchObject({ kind: "local", checkOk: true, classDaily: null });
  });

  it("S3-compatible: credentials sealed and never returned, classes default to the runbook's ladder", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    const { id } = await createDestination(t, s3Input());
    // A custom endpoint's Test also tries the classes retention will move copies to.
    expect(await testDestination(t, id)).toMatchObject({
      ok: true,
      message: expect.stringMatching(/probe object in \d+ ms \(and one in STANDARD_IA and GLACIER\);/),
    });
    const view = await getDestination(t, id);
    expect(view).toMatchObject({
      credentialFields: ["accessKeyId", "secretAccessKey"],
      classDaily: "STANDARD",
      classWeekly: "STANDARD_IA",
      classMonthly: "GLACIER",
      settings: { bucket: s3.bucket, endpoint: s3.endpoint },
    });
    expect(JSON.stringify(await listDestinations(t))).not.toContain(s3.secretAccessKey + '"');
    const [raw] = await (
      await db()
    )
      .select({ c: storageDestinations.credentialsEnc })
      .from(storageDestinations)
      .where(eq(storageDestinations.id, id));
    expect(raw!.c).toMatch(/^v1:test-1:/);
    expect(raw!.c).not.toContain(s3.accessKeyId);

    // An edit that leaves the secrets empty keeps them.
    await updateDestination(t, {
      ...s3Input({ name: view.name, accessKeyId: "", secretAccessKey: "", classMonthly: "GLACIER_IR" }),
      destinationId: id,
    });
    // An S3-compatible service may not have every AWS class: s3rver has no GLACIER_IR, and says so.
    expect(await testDestination(t, id)).toMatchObject({
      ok: false,
      message: expect.stringMatching(
        /^The storage refused the storage class GLACIER_IR \(monthly\): .*choose ones it offers in the destination's settings\.$/,
      ),
    });
    expect((await getDestination(t, id)).classMonthly).toBe("GLACIER_IR");
    // Pointing the stored keys at another endpoint needs them typed again.
    await expect(
      updateDestination(t, {
        ...s3Input({ name: view.name, accessKeyId: "", secretAccessKey: "", endpoint: "http://127.0.0.1:1" }),
        destinationId: id,
      }),
    ).rejects.toThrow("Changing the endpoint sends the credentials somewhere new: enter them again.");
    const { events } = await listAuditEvents(t, { action: "destination." });
    expect(events.map((e) => e.action)).toEqual(["destination.updated", "destination.created"]);
    expect(JSON.stringify(events)).not.toContain('secretAccessKey":"');
  });

  it("S3-compatible: a custom endpoint is called path-style unless path-style is turned off", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    const { token } = await createApiToken(t, { name: "ops", scopes: ["read", "admin"] });
    // A host name, as a MinIO's would be: the SDK calls an IP address path-style whatever the setting.
    // Virtual-hosted, the call goes to coffer-test-bucket.localhost, which does not resolve (and where
    // it does, s3rver takes the whole host for a bucket it lacks).
    const endpoint = s3.endpoint.replace("127.0.0.1", "localhost");
    // As the form sends it with the box left as shown, and as an API client that leaves the field out.
    const unset = () => {
      const { forcePathStyle: _, ...fields } = s3Input({ endpoint });
      return fields;
    };
    const fromForm = await createDestination(t, unset());
    const fromApi = await call(destinationsRoute.POST, "POST", "/destinations", { token, json: unset() });
    expect(fromApi.status).toBe(201);
    for (const id of [fromForm.id, fromApi.json.id as string]) {
      expect(await testDestination(t, id)).toMatchObject({
        ok: true,
        message: expect.stringMatching(/^Wrote, read back/),
      });
      expect((await getDestination(t, id)).settings).not.toHaveProperty("forcePathStyle");
    }
    // Turned off, it is kept off.
    const off = await createDestination(t, s3Input({ endpoint, forcePathStyle: false }));
    expect((await getDestination(t, off.id)).settings).toMatchObject({ forcePathStyle: false });
    expect(await testDestination(t, off.id)).toMatchObject({ ok: false });
    // A replace that leaves the field out (a client rotating keys) keeps it as stored.
    await updateDestination(t, { ...unset(), name: "renamed", destinationId: off.id });
    expect((await getDestination(t, off.id)).settings).toMatchObject({ forcePathStyle: false });
  });

  it("says what to fix: a missing bucket, wrong keys, a class the provider does not have", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    const missing = await createDestination(t, s3Input({ bucket: "no-such-bucket" }));
    const m = await testDestination(t, missing.id);
    expect(m.ok).toBe(false);
    expect(m.message).toContain("no-such-bucket");
    expect(m.message.toLowerCase()).toContain("does not exist");
    const wrong = await createDestination(t, s3Input({ secretAccessKey: "definitely-wrong-secret" }));
    const w = await testDestination(t, wrong.id);
    expect(w.ok).toBe(false);
    expect(w.message).not.toContain("definitely-wrong-secret");
    await expect(createDestination(t, s3Input({ classDaily: "ARCHIVE" }))).rejects.toThrow(
      "ARCHIVE is not a storage class of this provider. Use one of: STANDARD, STANDARD_IA, GLACIER_IR, GLACIER, DEEP_ARCHIVE.",
    );
    await expect(createDestination(t, s3Input({ bucket: "" }))).rejects.toThrow(AppError);
  });

  it("S3 sockets resolve through the address guard", async () => {
    const { createAdapter, probeStorage: probe } = await import("../storage");
    const { guardedAgents } = await import("../net/guarded-agent");
    const config = {
      kind: "s3" as const,
      bucket: s3.bucket,
      region: s3.region,
      endpoint: s3.endpoint.replace("127.0.0.1", "localhost"),
      forcePathStyle: true,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
    };
    await expect(probe(createAdapter(config, { agents: guardedAgents(true) }))).resolves.toMatchObject({
      ok: true,
    });
    await expect(probe(createAdapter(config, { agents: guardedAgents(false) }))).rejects.toThrow(
      "Coffer does not connect to localhost (127.0.0.1): it is a loopback address.",
    );
  });

  it("Azure and Google Cloud Storage sockets go through the address guard; an open port looks like a closed one", async () => {
    const { createAdapter, probeStorage: probe } = await import("../storage");
    const { guardedAgents } = await import("../net/guarded-agent");
    await BlobServiceClient.fromConnectionString(azure.connectionString).createContainer("guarded");
    const azureAt = (endpoint: string) => ({
      kind: "azure" as const,
      container: "guarded",
      accountName: azure.accountName,
      accountKey: azure.accountKey,
      endpoint,
    });
    const gcsAt = (apiEndpoint: string) => ({
      kind: "gcs" as const,
      bucket: gcs.bucket,
      apiEndpoint,
      projectId: "test",
      credentials: gcs.credentials,
    });
    const closed = `http://127.0.0.1:${await freePort()}`;
    for (const [name, at, open] of [
      ["azure", azureAt, azure.endpoint],
      ["gcs", gcsAt, gcs.apiEndpoint],
    ] as const) {
      const byName = (at as (e: string) => StorageConfig)(open.replace("127.0.0.1", "localhost"));
      await expect(probe(createAdapter(byName, { agents: guardedAgents(true) })), name).resolves.toMatchObject({
        ok: true,
      });
      await expect(probe(createAdapter(byName, { agents: guardedAgents(false) })), name).rejects.toThrow(
        /^Coffer does not connect to localhost \((127\.0\.0\.1|::1)\): it is a loopback address/,
      );
      // What a refused destination says is the same whether something listens there or not.
      const refusals = await Promise.all(
        [open, `${closed}${name === "azure" ? `/${azure.accountName}` : ""}`].map((endpoint) =>
          probe(createAdapter((at as (e: string) => StorageConfig)(endpoint), { agents: guardedAgents(false) })).then(
            () => "accepted",
            (err: Error) => err.message,
          ),
        ),
      );
      expect(refusals[0], name).toMatch(/^Coffer does not connect to 127\.0\.0\.1: it is a loopback address/);
      expect(refusals[1], name).toBe(refusals[0]);
    }
  });

  it("Azure requests do not follow redirects", async () => {
    const { createAdapter } = await import("../storage");
    const { guardedAgents } = await import("../net/guarded-agent");
    const listen = async (handle: (url: string, res: import("node:http").ServerResponse) => void) => {
      const server = createHttpServer((req, res) => handle(req.url ?? "/", res));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
    };
    // Even to the same host: the SDK itself already refuses to follow a redirect to another origin.
    let followed = 0;
    const redirector = await listen((url, res) => {
      if (url.startsWith("/moved")) followed++;
      res.writeHead(307, { Location: `/moved${url}` }).end();
    });
    try {
      const adapter = createAdapter(
        {
          kind: "azure",
          container: "redirected",
          accountName: azure.accountName,
          accountKey: azure.accountKey,
          endpoint: `${redirector.url}/${azure.accountName}`,
        },
        { agents: guardedAgents(true) },
      );
      await expect(adapter.head("probe")).rejects.toThrow(/HTTP 307/);
      expect(followed).toBe(0);
    } finally {
      await new Promise((resolve) => redirector.server.close(resolve));
    }
  });

  it("Google Cloud Storage and Azure Blob pass the probe", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    const g = await createDestination(t, {
      kind: "gcs",
      name: "gcs",
      bucket: gcs.bucket,
      prefix: "coffer",
      apiEndpoint: gcs.apiEndpoint,
      projectId: "test",
      credentials: JSON.stringify(gcs.credentials),
    });
    expect(await testDestination(t, g.id)).toMatchObject({ ok: true });
    expect((await getDestination(t, g.id)).classWeekly).toBe("NEARLINE");
    const z = await createDestination(t, {
      kind: "azure",
      name: "azure",
      container: "backups",
      prefix: "coffer",
      connectionString: azure.connectionString,
    });
    const missing = await testDestination(t, z.id);
    expect(missing.ok).toBe(false);
    expect(missing.message).toContain('container "backups" does not exist');
    await BlobServiceClient.fromConnectionString(azure.connectionString).createContainer("backups");
    expect(await testDestination(t, z.id)).toMatchObject({ ok: true });
    expect((await getDestination(t, z.id)).classMonthly).toBe("Cold");
  });

  it("a destination that holds backups moves only to where they are: the newest copy must be found at the new location", async () => {
    const t = await (await signedUpUser("Mover")).team("admin");
    const { id: serverId } = await createServer(t, { kind: "local", name: "host", workDir: "/var/tmp" });
    const prefix = `mv-${Date.now()}`;
    const { id } = await createDestination(t, { kind: "local", name: "disk", prefix });
    const dir = mkdtempSync(path.join(tmpdir(), "coffer-move-"));
    writeFileSync(path.join(dir, "notes.txt"), "kept\n");
    const tgz = execFileSync("tar", ["czf", "-", "-C", dir, "notes.txt"]);
    const upload = await importUpload(
      t,
      { serverId, destinationIds: [id], encrypted: true, fileName: "notes.tar.gz" },
      Readable.from([tgz]),
    );
    // A later run that failed there (its object never written) is no copy to look for.
    const failed = await insertBackupRow({
      teamId: t.id,
      serverId,
      trigger: "manual",
      status: "failed",
      encrypted: true,
      fileName: "host-failed.tar.gz",
    });
    await insertLocationRow({
      teamId: t.id,
      backupId: failed,
      destinationId: id,
      objectKey: "never-written.tar.gz.enc",
      status: "failed",
      createdAt: new Date(Date.now() + 60_000),
    });
    const moved = { kind: "local" as const, name: "disk", prefix: `${prefix}-new`, destinationId: id };
    await expect(updateDestination(t, moved)).rejects.toThrow(
      /^1 backup is stored at this destination's current location, and the newest of them \(.+\) is not at the new location\. Move the objects there first/,
    );
    expect((await getDestination(t, id)).settings).toMatchObject({ prefix });

    // Moved by hand (a migrated bucket, here a copied folder): the destination follows, and reads work.
    const root = path.join(env().DATA_DIR, "storage", t.id);
    cpSync(path.join(root, prefix), path.join(root, `${prefix}-new`), { recursive: true });
    rmSync(path.join(root, prefix), { recursive: true });
    await updateDestination(t, moved);
    const download = await openDownload(t, upload.id, null);
    const chunks: Buffer[] = [];
    for await (const c of download.body!) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks)).toEqual(tgz);
    rmSync(dir, { recursive: true });
  });

  it("Azure: a new connection string is a move too, refused while backups are stored unless they are where it leads", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    const container = "moving";
    const service = BlobServiceClient.fromConnectionString(azure.connectionString);
    await service.createContainer(container);
    const fields = { kind: "azure" as const, name: "blob", container };
    const { id } = await createDestination(t, { ...fields, connectionString: azure.connectionString });
    const { id: serverId } = await createServer(t, { kind: "local", name: "host", workDir: "/var/tmp" });
    const backupId = await insertBackupRow({
      teamId: t.id,
      serverId,
      trigger: "manual",
      status: "succeeded",
      encrypted: true,
      fileName: "host.tar.gz",
    });
    const objectKey = "host.tar.gz.enc";
    await service.getContainerClient(container).getBlockBlobClient(objectKey).upload("stored", 6);
    await insertLocationRow({ teamId: t.id, backupId, destinationId: id, objectKey, status: "stored" });
    // Another account's string (here: the same name at an endpoint where nothing answers).
    const closed = await freePort();
    const elsewhere = azure.connectionString.replace(
      /BlobEndpoint=[^;]+/,
      `BlobEndpoint=http://127.0.0.1:${closed}/${azure.accountName}`,
    );
    await expect(updateDestination(t, { ...fields, connectionString: elsewhere, destinationId: id })).rejects.toThrow(
      /^1 backup is stored at this destination's current location, and the new location could not be checked for them/,
    );
    // The same account's string, entered again: the copy is there, so it is saved.
    await updateDestination(t, {
      ...fields,
      name: "blob-2",
      connectionString: azure.connectionString,
      destinationId: id,
    });
    expect((await getDestination(t, id)).name).toBe("blob-2");
  });

  it("a server's backup directory over SSH", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    const { id: serverId } = await createServer(t, {
      kind: "ssh",
      name: "nas",
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      authMethod: "key",
      privateKey: sshd.privateKey,
      workDir: "/tmp",
    });
    const dir = path.join(tmpdir(), `coffer-dst-${Date.now()}`);
    const { id } = await createDestination(t, { kind: "server", name: "nas-dir", serverId, path: dir });
    expect(await testDestination(t, id)).toMatchObject({ ok: true });
    expect(await getDestination(t, id)).toMatchObject({ serverName: "nas", settings: { path: dir } });
  });

  it("says how large an object fits, and when the largest recent backup sent here would not", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    const { id } = await createDestination(t, s3Input());
    const fits = await testDestination(t, id);
    expect(fits).toMatchObject({
      ok: true,
      facts: { "largest object": "5.0 TiB", limits: "S3: up to 10,000 parts, 8 MiB growing to 5 GiB" },
    });
    expect(fits.message).toMatch(/; takes objects up to 5\.0 TiB\.$/);

    const { id: serverId } = await createServer(t, {
      kind: "ssh",
      name: "db-host",
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      authMethod: "key",
      privateKey: sshd.privateKey,
      workDir: "/tmp",
    });
    const backup = {
      teamId: t.id,
      serverId,
      trigger: "schedule" as const,
      status: "succeeded" as const,
      encrypted: true,
      sourceIds: [],
      destinationIds: [id],
      fileName: "db-host.tar.gz",
      finishedAt: new Date(),
    };
    await insertBackupRow({ ...backup, sizeBytes: 6 * 1024 ** 4 });
    await insertBackupRow({ ...backup, sizeBytes: 7 * 1024 ** 4, finishedAt: new Date(Date.now() - 40 * 86_400_000) });
    const tooBig = await testDestination(t, id);
    expect(tooBig).toMatchObject({
      ok: false,
      message:
        "A backup of about 6.0 TiB (the largest backup sent here in 30 days) does not fit: This destination takes " +
        "objects of at most 5.0 TiB (S3: up to 10,000 parts, 1.23 GiB growing to 5 GiB). To go on, choose another " +
        "destination, or split the sources into smaller backups.",
      facts: { "largest backup sent here (30 days)": "6.0 TiB" },
    });
    expect(await getDestination(t, id)).toMatchObject({ checkOk: false });
  });

  it("another team's destinations and servers are NOT_FOUND; members test but cannot change them", async () => {
    const a = await signedUpUser("Alice");
    const ta = await a.team("owner");
    const { id } = await createDestination(ta, { kind: "local", name: "a-disk" });
    const { id: serverId } = await createServer(ta, { kind: "local", name: "a-host", workDir: "/tmp" });

    const m = await signedUpUser("Mallory");
    const tm = await m.team("owner");
    expect(await code(getDestination(tm, id))).toBe("NOT_FOUND");
    expect(await code(testDestination(tm, id))).toBe("NOT_FOUND");
    expect(await code(updateDestination(tm, { kind: "local", name: "mine", destinationId: id }))).toBe("NOT_FOUND");
    expect(await code(deleteDestination(tm, id))).toBe("NOT_FOUND");
    expect(await code(createDestination(tm, { kind: "server", name: "theirs", serverId, path: "/tmp" }))).toBe(
      "NOT_FOUND",
    );
    expect((await getDestination(ta, id)).name).toBe("a-disk");

    const b = await signedUpUser("Bob");
    const inv = await createInvitation(ta, { email: b.email, role: "member" });
    await acceptInvitation(b.actor, b.email, inv.link.split("/invite/")[1]!);
    const tb = await teamForUser(b.actor, a.teamSlug);
    expect((await testDestination(tb, id)).ok).toBe(true);
    expect(await code(createDestination(tb, { kind: "local", name: "x" }))).toBe("FORBIDDEN");
    expect(await code(deleteDestination(tb, id))).toBe("FORBIDDEN");
  });
});

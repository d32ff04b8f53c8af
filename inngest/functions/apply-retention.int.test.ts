import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CopyObjectCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { BlobServiceClient } from "@azure/storage-blob";
import { Storage } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAuditEvents } from "@/lib/audit/queries";
import { openDownload, requestRetrieval } from "@/lib/backups/download";
import { getBackup, listBackups } from "@/lib/backups/queries";
import { createDestination, updateDestination } from "@/lib/destinations/mutations";
import { applyRetention, holdForReading, previewRetention } from "@/lib/retention/apply";
import { getTeamRetention, updateTeamRetention } from "@/lib/retention/policies";
import { setDestinationPrices, storageUsage, storedBytesHistory } from "@/lib/retention/usage";
import { DEFAULT_POLICY } from "@/lib/retention/select";
import { createSchedule } from "@/lib/schedules/mutations";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import {
  destinationSettings,
  insertBackupRow,
  newestEventData,
  setBackupRow,
  setDestinationSettings,
  setLocationRow,
  setScheduleRow,
} from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { startAzurite, type AzuriteServer } from "@/test/servers/azurite";
import { startGcsServer, type GcsServer } from "@/test/servers/gcs-server";
import { startS3rver, type S3rverServer } from "@/test/servers/s3rver";
import { backupEvent, retentionEvent } from "../events";
import { inProcessEngine, type InProcessEngine } from "../in-process";
import { backUpNow } from "@/test/backups";

let s3: S3rverServer;
let gcs: GcsServer;
let azure: AzuriteServer;
let engine: InProcessEngine;

beforeAll(async () => {
  [s3, gcs, azure] = await Promise.all([startS3rver(), startGcsServer(), startAzurite()]);
  await BlobServiceClient.fromConnectionString(azure.connectionString).createContainer("backups");
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
});
afterAll(async () => {
  await engine?.stop();
  await Promise.all([s3?.stop(), gcs?.stop(), azure?.stop()]);
});

const s3Client = () =>
  new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
const s3Head = (key: string) =>
  s3Client()
    .send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }))
    .then(
      (h) => h.StorageClass ?? "STANDARD",
      () => null,
    );
const azureTier = (key: string) =>
  BlobServiceClient.fromConnectionString(azure.connectionString)
    .getContainerClient("backups")
    .getBlobClient(key)
    .getProperties()
    .then(
      (p) => p.accessTier ?? null,
      () => null,
    );
const gcsClass = (key: string) =>
  new Storage({
    apiEndpoint: gcs.apiEndpoint,
    projectId: gcs.projectId,
    credentials: gcs.credentials,
    useAuthWithCustomEndpoint: true,
  })
    .bucket(gcs.bucket)
    .file(key)
    .getMetadata()
    .then(
      ([m]) => m.storageClass ?? null,
      () => null,
    );

/** Five backups of one schedule (S3, Azure, GCS), dated 1–3 June, 20 May and 10 April (UTC). */
async function history() {
  const user = await signedUpUser("Ret");
  const t = await user.team("admin");
  const folder = mkdtempSync(path.join(tmpdir(), "coffer-ret-"));
  writeFileSync(path.join(folder, "a.txt"), randomBytes(2048));
  const { id: serverId } = await createServer(t, { kind: "local", name: "host", workDir: "/var/tmp" });
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "directory",
    name: "files",
    paths: [folder],
    excludes: [],
  });
  const prefix = `r-${randomBytes(4).toString("hex")}`;
  const dests = [
    (
      await createDestination(t, {
        kind: "s3",
        name: "s3",
        bucket: s3.bucket,
        prefix,
        region: s3.region,
        endpoint: s3.endpoint,
        forcePathStyle: true,
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
      })
    ).id,
    (
      await createDestination(t, {
        kind: "azure",
        name: "azure",
        container: "backups",
        prefix,
        connectionString: azure.connectionString,
      })
    ).id,
    (
      await createDestination(t, {
        kind: "gcs",
        name: "gcs",
        bucket: gcs.bucket,
        prefix,
        apiEndpoint: gcs.apiEndpoint,
        projectId: gcs.projectId,
        credentials: JSON.stringify(gcs.credentials),
      })
    ).id,
  ];
  const { id: scheduleId } = await createSchedule(t, {
    name: "nightly",
    serverId,
    sourceIds: [sourceId],
    destinationIds: dests,
    when: { kind: "daily", time: "02:00" },
    timezone: "UTC",
    encrypted: true,
    enabled: false,
    verify: false,
    // Everything is kept, in the daily class, while the history is made (each backup requests a retention run as it ends).
    retention: { keepAll: false, last: 100, daily: 0, weekly: 0, monthly: 0, yearly: 0 },
  });
  const dates = ["2026-06-03", "2026-06-02", "2026-06-01", "2026-05-20", "2026-04-10"];
  const ids: Record<string, string> = {};
  for (const date of dates) {
    const id = await insertBackupRow({
      teamId: t.id,
      serverId,
      scheduleId,
      scheduledFor: new Date(`${date}T02:00:00Z`),
      trigger: "schedule",
      encrypted: true,
      sourceIds: [sourceId],
      destinationIds: dests,
      fileName: `host-${date.replaceAll("-", "")}-020000.tar.gz`,
    });
    ids[date] = id;
    engine.send([backupEvent({ teamId: t.id, serverId, backupId: id })]);
    await engine.idle();
    await setBackupRow(id, { startedAt: new Date(`${date}T02:00:00Z`) }); // as if it had run that day
  }
  await setScheduleRow(scheduleId, {
    retention: { keepAll: false, last: 0, daily: 2, weekly: 2, monthly: 0, yearly: 0 },
  });
  const keyOf = async (id: string) => `${prefix}/${(await getBackup(t, id)).locations[0]!.objectKey}`;
  return { t, scheduleId, ids, keyOf, dests, prefix };
}

describe("apply-retention", () => {
  it("trashes what no rule keeps, deletes it from every provider after the grace period, and moves kept copies to their tier's class", async () => {
    const h = await history();
    const preview = await previewRetention(h.t, { scheduleId: h.scheduleId });
    expect(
      preview.decisions
        .filter((x) => !x.keep)
        .map((x) => x.id)
        .sort(),
    ).toEqual([h.ids["2026-06-01"], h.ids["2026-04-10"]].sort());
    // 20 May is being read (a download): its copies keep their class until the read is over.
    await holdForReading(h.t, h.ids["2026-05-20"]!, 60_000);
    engine.send([retentionEvent(h.t.id, { scheduleId: h.scheduleId }, "test")]);
    await engine.idle();
    const dropped = [h.ids["2026-06-01"], h.ids["2026-04-10"]].sort();
    const trashing = await newestEventData(h.t.id, "retention.applied");
    expect(trashing!.trashed.backups.map((b) => b.id).sort()).toEqual(dropped);
    expect(trashing!.expired).toEqual({ count: 0, backups: [] });
    expect(await s3Head(await h.keyOf(h.ids["2026-05-20"]!))).toBe("STANDARD");
    await setBackupRow(h.ids["2026-05-20"]!, { readingUntil: null });
    // In the trash first, every copy still there; a week later the next run deletes them.
    for (const gone of ["2026-06-01", "2026-04-10"]) {
      expect((await getBackup(h.t, h.ids[gone]!)).status).toBe("trashed");
      expect(await s3Head(await h.keyOf(h.ids[gone]!))).toBe("STANDARD");
      await setBackupRow(h.ids[gone]!, { trashedAt: new Date(Date.now() - 8 * 86_400_000) });
    }
    engine.send([retentionEvent(h.t.id, { scheduleId: h.scheduleId }, "test-a-week-later")]);
    await engine.idle();
    const expiring = await newestEventData(h.t.id, "retention.applied");
    expect(expiring!.expired.backups.map((b) => b.id).sort()).toEqual(dropped);
    expect(expiring!.trashed).toEqual({ count: 0, backups: [] });

    for (const gone of ["2026-06-01", "2026-04-10"]) {
      const b = await getBackup(h.t, h.ids[gone]!);
      expect(b.status).toBe("expired");
      expect(b.locations.map((l) => l.status)).toEqual(["deleted", "deleted", "deleted"]);
      const key = await h.keyOf(h.ids[gone]!);
      expect([await s3Head(key), await azureTier(key), await gcsClass(key)]).toEqual([null, null, null]);
    }
    // 3 and 2 June are within the daily window (3 June is also the week's): daily class. 20 May is
    // kept only as its week's backup: it has moved to the weekly class at every provider.
    const weekly = await h.keyOf(h.ids["2026-05-20"]!);
    expect([await s3Head(weekly), await azureTier(weekly), await gcsClass(weekly)]).toEqual([
      "STANDARD_IA",
      "Cool",
      "NEARLINE",
    ]);
    const daily = await h.keyOf(h.ids["2026-06-03"]!);
    expect([await s3Head(daily), await azureTier(daily), await gcsClass(daily)]).toEqual([
      "STANDARD",
      "Hot",
      "STANDARD",
    ]);
    expect((await getBackup(h.t, h.ids["2026-05-20"]!)).locations.map((l) => l.storageClass)).toEqual([
      "Cool",
      "NEARLINE",
      "STANDARD_IA",
    ]);
    expect((await getBackup(h.t, h.ids["2026-05-20"]!)).tier).toBe("weekly");
    const expiredEvents = (await listAuditEvents(h.t, { action: "backup.expired" })).events;
    expect(expiredEvents).toHaveLength(2);

    // Usage and cost agree with what the providers hold: 3 backups × 3 destinations.
    const usage = await storageUsage(h.t);
    const size = async (date: string) => (await getBackup(h.t, h.ids[date]!)).sizeBytes!;
    const keptBytes = (await size("2026-06-03")) + (await size("2026-06-02")) + (await size("2026-05-20"));
    const weeklyBytes = await size("2026-05-20");
    expect(usage.lines.map((l) => [l.name, l.storageClass, l.objects])).toEqual([
      ["azure", "Cool", 1],
      ["azure", "Hot", 2],
      ["gcs", "NEARLINE", 1],
      ["gcs", "STANDARD", 2],
      ["s3", "STANDARD", 2],
      ["s3", "STANDARD_IA", 1],
    ]);
    expect(usage.bytes).toBe(3 * keptBytes);
    const s3Ia = usage.lines.find((l) => l.storageClass === "STANDARD_IA")!;
    expect(s3Ia.monthlyCost).toBeCloseTo((weeklyBytes / 1e9) * 0.0125, 12);
    await setDestinationPrices(h.t, h.dests[0]!, "standard_ia=1.5");
    expect((await storageUsage(h.t)).lines.find((l) => l.storageClass === "STANDARD_IA")!.monthlyCost).toBeCloseTo(
      (weeklyBytes / 1e9) * 1.5,
      12,
    );
    await expect(setDestinationPrices(h.t, h.dests[0]!, "Hot=1")).rejects.toThrow(
      /"Hot=1" is not CLASS=price\. Use classes of this provider \(STANDARD, STANDARD_IA/,
    );
    const stored = await storedBytesHistory(h.t, 3);
    expect(stored.map((p) => p.bytes)).toEqual([0, 0, 3 * keptBytes]); // the backups ran today (only their dates were moved back)
    expect(stored.at(-1)!.byDestination).toEqual(Object.fromEntries(h.dests.map((id) => [id, keptBytes])));

    // A copy in archive storage is not read; when every copy is, the download says what to do.
    await setLocationRow(h.ids["2026-05-20"]!, h.dests[0]!, { storageClass: "GLACIER" });
    expect((await openDownload(h.t, h.ids["2026-05-20"]!, "bytes=0-9")).status).toBe(206);
    await setLocationRow(h.ids["2026-05-20"]!, h.dests[1]!, { storageClass: "Archive" });
    await setLocationRow(h.ids["2026-05-20"]!, h.dests[2]!, { status: "deleted" });
    // The rows alone decide nothing: the providers still hold readable objects, so the download reads one, and the rows follow them.
    expect((await openDownload(h.t, h.ids["2026-05-20"]!, "bytes=0-9")).status).toBe(206);
    expect(
      (await getBackup(h.t, h.ids["2026-05-20"]!)).locations
        .filter((l) => l.status === "stored")
        .map((l) => l.storageClass),
    ).toEqual(["Cool", "STANDARD_IA"]);
    // Archived at both providers, as retention does it (object and row): one retrieval is requested, from the quickest (S3 GLACIER, hours before Azure Archive).
    await s3Client().send(
      new CopyObjectCommand({
        Bucket: s3.bucket,
        Key: weekly,
        CopySource: `${s3.bucket}/${weekly}`,
        StorageClass: "GLACIER",
        MetadataDirective: "COPY",
      }),
    );
    await BlobServiceClient.fromConnectionString(azure.connectionString)
      .getContainerClient("backups")
      .getBlobClient(weekly)
      .setAccessTier("Archive");
    await setLocationRow(h.ids["2026-05-20"]!, h.dests[0]!, { storageClass: "GLACIER" });
    await setLocationRow(h.ids["2026-05-20"]!, h.dests[1]!, { storageClass: "Archive" });
    // A GET does not ask for the (paid) retrieval; the Download button's POST does.
    await expect(openDownload(h.t, h.ids["2026-05-20"]!, null)).rejects.toThrow(/Press Download on the backup's page/);
    expect((await listAuditEvents(h.t, { action: "backup.retrieval_requested" })).events).toHaveLength(0);
    await expect(requestRetrieval(h.t, h.ids["2026-05-20"]!)).rejects.toThrow(
      /^Every copy of this backup is in archive storage, so Coffer asked "s3" to restore its copy \(GLACIER\)\. It will be readable in about 5 hours/,
    );
    expect(await azureTier(weekly)).toBe("Archive");
    expect((await listAuditEvents(h.t, { action: "backup.retrieval_requested" })).events).toHaveLength(1);

    // The weekly class changed after the copy was archived: it stays in Archive, since setting its
    // tier would start a paid rehydration and the row would claim a class the blob is not in yet.
    await updateDestination(h.t, {
      destinationId: h.dests[1]!,
      kind: "azure",
      name: "azure",
      container: "backups",
      prefix: h.prefix,
      classWeekly: "Cold",
    });
    engine.send([retentionEvent(h.t.id, { scheduleId: h.scheduleId }, "test-after-class-change")]);
    await engine.idle();
    expect(await azureTier(weekly)).toBe("Archive");
    expect(
      (await getBackup(h.t, h.ids["2026-05-20"]!)).locations.find((l) => l.destinationId === h.dests[1])!.storageClass,
    ).toBe("Archive");
  });

  it("a destination failing mid-delete leaves the copy for the next run; two runs at once trash or expire nothing twice", async () => {
    const h = await history();
    // Trash by a tighter policy, then expire once the grace period is over, while the S3 endpoint is unreachable.
    await setScheduleRow(h.scheduleId, {
      retention: { keepAll: false, last: 0, daily: 1, weekly: 0, monthly: 0, yearly: 0 },
    });
    const trashing = await Promise.all([
      applyRetention(h.t.id, { scheduleId: h.scheduleId }),
      applyRetention(h.t.id, { scheduleId: h.scheduleId }),
    ]);
    expect(trashing[0].trashed + trashing[1].trashed).toBe(4); // everything but the latest, each once
    expect((await listAuditEvents(h.t, { action: "backup.trashed" })).events).toHaveLength(4);
    for (const date of ["2026-06-02", "2026-06-01", "2026-05-20", "2026-04-10"])
      await setBackupRow(h.ids[date]!, { trashedAt: new Date(Date.now() - 8 * 86_400_000) });
    const s3Settings = await destinationSettings(h.dests[0]!);
    await setDestinationSettings(h.dests[0]!, { ...s3Settings, endpoint: "http://127.0.0.1:9" });
    const [a, b] = await Promise.all([
      applyRetention(h.t.id, { scheduleId: h.scheduleId }),
      applyRetention(h.t.id, { scheduleId: h.scheduleId }),
    ]);
    expect(a.expired + b.expired).toBe(4);
    expect((await listAuditEvents(h.t, { action: "backup.expired" })).events).toHaveLength(4);
    const stuck = await getBackup(h.t, h.ids["2026-06-02"]!);
    expect(stuck.status).toBe("expired");
    expect(stuck.locations.find((l) => l.kind === "s3")).toMatchObject({
      status: "stored",
      error: expect.stringMatching(/^Could not delete this copy yet/),
    });
    expect(await s3Head(await h.keyOf(h.ids["2026-06-02"]!))).toBe("STANDARD"); // still there

    await setDestinationSettings(h.dests[0]!, s3Settings);
    const again = await applyRetention(h.t.id, { scheduleId: h.scheduleId });
    expect(again).toMatchObject({ expired: 0, problems: [] });
    for (const date of ["2026-06-02", "2026-06-01", "2026-05-20", "2026-04-10"]) {
      expect((await getBackup(h.t, h.ids[date]!)).locations.every((l) => l.status === "deleted")).toBe(true);
      expect(await s3Head(await h.keyOf(h.ids[date]!))).toBeNull();
    }
    expect((await getBackup(h.t, h.ids["2026-06-03"]!)).status).toBe("succeeded");
    expect(
      (await listBackups(h.t, { scheduleId: h.scheduleId })).rows.filter((b) => b.status === "succeeded"),
    ).toHaveLength(1);
  });

  it("unscheduled backups follow the team's default policy, per server: kept until deleted unless changed", async () => {
    const user = await signedUpUser("Def");
    const t = await user.team("admin");
    const folder = mkdtempSync(path.join(tmpdir(), "coffer-def-"));
    writeFileSync(path.join(folder, "a.txt"), "a");
    const { id: serverId } = await createServer(t, { kind: "local", name: "host", workDir: "/var/tmp" });
    const { id: sourceId } = await createSource(t, {
      serverId,
      kind: "directory",
      name: "files",
      paths: [folder],
      excludes: [],
    });
    const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk" });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { id } = await backUpNow(engine, t, {
        serverId,
        sourceIds: [sourceId],
        destinationIds: [destinationId],
        encrypted: false,
      });
      ids.push(id);
    }
    expect(await getTeamRetention(t)).toMatchObject({ keepAll: true });
    expect((await applyRetention(t.id, { serverId })).trashed).toBe(0);
    await expect(
      updateTeamRetention({ ...t, role: "member" }, { ...DEFAULT_POLICY, keepAll: false }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(
      await updateTeamRetention(t, { keepAll: false, last: 2, daily: 0, weekly: 0, monthly: 0, yearly: 0 }),
    ).toEqual({ keeps: "keeps the last 2 backups — about 2 backups" });
    expect((await applyRetention(t.id, { serverId })).trashed).toBe(1);
    expect((await Promise.all(ids.map((id) => getBackup(t, id)))).map((b) => b.status)).toEqual([
      "trashed",
      "succeeded",
      "succeeded",
    ]);
  });
});

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getBackup } from "@/lib/backups/queries";
import { createDestination } from "@/lib/destinations/mutations";
import { env } from "@/lib/env";
import { eventTypes, type EventType } from "@/lib/notifications/catalogue";
import { exampleData } from "@/lib/notifications/examples";
import { requestDirectoryRestore, requestVerification } from "@/lib/restores/mutations";
import { getRestore } from "@/lib/restores/queries";
import { createSchedule } from "@/lib/schedules/mutations";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import type { TeamContext } from "@/lib/teams/context";
import { createChannel } from "@/lib/webhooks/channels";
import { listDeliveries } from "@/lib/webhooks/queries";
import { insertBackupRow, setScheduleHealthRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { startReceiver, type Receiver } from "@/test/servers/webhook-receiver";
import { restoreEvent, retentionEvent } from "../events";
import { inProcessEngine, type InProcessEngine } from "../in-process";
import { detectStaleBackups } from "./detect-stale-backups";
import { backUpNow } from "@/test/backups";

let engine: InProcessEngine;
let receiver: Receiver;
let scratch: string;

beforeAll(async () => {
  // Registers itself with lib's dispatch port, as at server start: queued deliveries wake a run.
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  receiver = await startReceiver();
  scratch = mkdtempSync(path.join(tmpdir(), "coffer-notify-"));
});
afterAll(async () => {
  await engine?.stop();
  await receiver?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** Where `actual` differs in shape from `example`: keys and types, recursively; null fits anything. */
function shapeDifferences(actual: unknown, example: unknown, at = "data"): string[] {
  if (actual === null || example === null) return [];
  if (Array.isArray(example))
    return Array.isArray(actual)
      ? actual.length && example.length
        ? shapeDifferences(actual[0], example[0], `${at}[0]`)
        : []
      : [`${at}: not a list`];
  if (typeof example === "object") {
    if (typeof actual !== "object" || Array.isArray(actual)) return [`${at}: not an object`];
    const keys = new Set([...Object.keys(actual as object), ...Object.keys(example as object)]);
    return [...keys].flatMap((k) =>
      !(k in (actual as object)) || !(k in (example as object))
        ? [`${at}.${k}: in only one of them`]
        : shapeDifferences(
            (actual as Record<string, unknown>)[k],
            (example as Record<string, unknown>)[k],
            `${at}.${k}`,
          ),
    );
  }
  return typeof actual === typeof example ? [] : [`${at}: ${typeof actual}, the example has ${typeof example}`];
}

/** The team's server (this host), a folder with a file, a disk destination. */
async function setup(t: TeamContext) {
  const folder = mkdtempSync(path.join(scratch, "site-"));
  writeFileSync(path.join(folder, "private-notes.txt"), "the content of a file inside the backup");
  const { id: serverId } = await createServer(t, { kind: "local", name: "web-1", workDir: tmpdir() });
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "directory",
    name: "site",
    paths: [folder],
    excludes: [],
  });
  const prefix = `n-${Date.now()}`;
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix });
  return { serverId, sourceId, destinationId, folder, prefix };
}

/** Until every run is done, including the delivery runs the last ones asked for. */
async function settle() {
  await engine.idle();
  await new Promise((r) => setTimeout(r, 300));
  await engine.idle();
}

async function backup(t: TeamContext, s: { serverId: string; sourceId: string; destinationId: string }) {
  const { id } = await backUpNow(engine, t, {
    serverId: s.serverId,
    sourceIds: [s.sourceId],
    destinationIds: [s.destinationId],
    encrypted: true,
  });
  return getBackup(t, id);
}

async function runRestore(t: TeamContext, id: string) {
  const r = await getRestore(t, id);
  engine.send([restoreEvent({ teamId: t.id, serverId: r.serverId, restoreId: id, kind: r.kind })]);
  await engine.idle();
  return getRestore(t, id);
}

describe("notifications end to end (in-process workflows)", () => {
  it("delivers every event of the catalogue, produced by the real runs, signed, shaped like the README's examples", async () => {
    const t = await (await signedUpUser("Notify")).team("admin");
    const { id: channelId, secret } = await createChannel(t, {
      kind: "webhook",
      url: receiver.url("/all"),
      description: "everything",
      events: [],
    });
    const s = await setup(t);

    // backup.succeeded, then verification.succeeded and restore.succeeded / restore.failed of it.
    const good = await backup(t, s);
    expect(good.status).toBe("succeeded");
    const verified = await requestVerification(t, { backupId: good.id });
    expect((await runRestore(t, verified.id)).status).toBe("succeeded");
    const into = path.join(mkdtempSync(path.join(scratch, "into-")), "restored");
    const restore = {
      backupId: good.id,
      members: [`files${s.folder}`],
      serverId: s.serverId,
      targetPath: into,
      mode: "fresh" as const,
    };
    expect((await runRestore(t, (await requestDirectoryRestore(t, restore)).id)).status).toBe("succeeded");
    expect((await runRestore(t, (await requestDirectoryRestore(t, restore)).id)).status).toBe("failed"); // it exists now

    // verification.failed: the stored object was altered.
    const stored = path.join(env().DATA_DIR, "storage", t.id, s.prefix, good.locations[0]!.objectKey);
    const bytes = readFileSync(stored);
    bytes[bytes.length - 40]! ^= 1;
    writeFileSync(stored, bytes);
    const tampered = await requestVerification(t, { backupId: good.id });
    expect((await runRestore(t, tampered.id)).status).toBe("failed");

    // backup.failed (and destination.failing): the destination's folder is blocked by a file.
    rmSync(path.join(env().DATA_DIR, "storage", t.id, s.prefix, s.serverId), { recursive: true });
    writeFileSync(path.join(env().DATA_DIR, "storage", t.id, s.prefix, s.serverId), "not a folder");
    expect((await backup(t, s)).status).toBe("failed");

    // retention.applied: a schedule keeping the last backup, with two of its backups on record.
    const { id: scheduleId } = await createSchedule(t, {
      name: "nightly",
      serverId: s.serverId,
      sourceIds: [s.sourceId],
      destinationIds: [s.destinationId],
      when: { kind: "daily", time: "02:00" },
      timezone: "UTC",
      encrypted: true,
      enabled: true,
      verify: false,
      retention: { keepAll: false, last: 1, daily: 0, weekly: 0, monthly: 0, yearly: 0 },
    });
    for (const days of [4, 3])
      await insertBackupRow({
        teamId: t.id,
        serverId: s.serverId,
        scheduleId,
        trigger: "schedule",
        status: "succeeded",
        encrypted: true,
        sourceIds: [s.sourceId],
        destinationIds: [s.destinationId],
        fileName: `web-1-${days}.tar.gz`,
        createdAt: new Date(Date.now() - days * 86_400_000),
        startedAt: new Date(Date.now() - days * 86_400_000),
        finishedAt: new Date(Date.now() - days * 86_400_000 + 60_000),
      });
    engine.send([retentionEvent(t.id, { scheduleId }, "test")]);
    await engine.idle();

    // backup.stale: its newest success is two days old (a daily schedule is stale after two); then backup.recovered.
    engine.runCron(detectStaleBackups);
    await engine.idle();
    await setScheduleHealthRow(scheduleId, { watchedSince: new Date(Date.now() - 5 * 86_400_000) });
    engine.runCron(detectStaleBackups);
    await engine.idle();
    await insertBackupRow({
      teamId: t.id,
      serverId: s.serverId,
      scheduleId,
      trigger: "schedule",
      status: "succeeded",
      encrypted: true,
      sourceIds: [s.sourceId],
      destinationIds: [s.destinationId],
      fileName: "web-1-now.tar.gz",
      startedAt: new Date(Date.now() - 60_000),
      finishedAt: new Date(),
    });
    engine.runCron(detectStaleBackups);
    await settle();

    const got = receiver.at("/all");
    const types = got.map((r) => JSON.parse(r.body).type as EventType);
    expect([...new Set(types)].sort()).toEqual([...eventTypes].sort());
    expect(types.filter((x) => x === "backup.stale")).toHaveLength(1);
    for (const r of got) {
      const body = JSON.parse(r.body);
      expect(receiver.verify(secret!, r), body.type).toBe(true);
      expect(r.headers["webhook-id"]).toBe(body.id);
      expect(shapeDifferences(body.data, exampleData(body.type, "x")), body.type).toEqual([]);
    }
    const byType = (type: EventType) => got.map((r) => JSON.parse(r.body)).find((b) => b.type === type);
    expect(byType("backup.succeeded").data.backup).toMatchObject({
      id: good.id,
      status: "succeeded",
      sizeBytes: good.sizeBytes,
    });
    expect(byType("backup.succeeded").data.server).toEqual({ id: s.serverId, name: "web-1" });
    expect(byType("destination.failing").data.destination).toMatchObject({ id: s.destinationId, name: "disk" });
    expect(byType("retention.applied").data.trashed.count).toBe(1);
    expect(byType("verification.failed").data.verification.error).toMatch(/difference|failed/);
    expect(byType("backup.recovered").data.schedule).toMatchObject({ id: scheduleId, name: "nightly" });
    // Nothing from inside the backup leaves Coffer: not a file's name, not its content.
    const all = got.map((r) => r.body).join("\n");
    expect(all).not.toContain("private-notes.txt");
    expect(all).not.toContain("the content of a file");
    expect((await listDeliveries(t, channelId, { status: "succeeded" })).length).toBe(got.length);
  });

  it("a hanging endpoint does not hold up another: each channel has its own delivery run", async () => {
    const t = await (await signedUpUser("Notify")).team("admin");
    receiver.on("/stuck", { hang: true });
    await createChannel(t, { kind: "webhook", url: receiver.url("/stuck"), description: "", events: [] });
    await createChannel(t, { kind: "webhook", url: receiver.url("/quick"), description: "", events: [] });
    const s = await setup(t);
    const started = Date.now();
    const done = backup(t, s);
    const arrived = () => receiver.at("/quick").length + receiver.at("/stuck").length === 2;
    while (!arrived() && Date.now() - started < 9_000) await new Promise((r) => setTimeout(r, 50));
    // Both asked at once: the quick one answered and was logged while the stuck one still waits (10 s).
    expect(receiver.at("/quick")).toHaveLength(1);
    expect(receiver.at("/stuck")).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(9_000);
    await done;
    receiver.on("/stuck", { status: 200 });
    receiver.dropConnections(); // its retry (5 s later) succeeds, and the run ends
    await settle();
    expect(receiver.at("/stuck")).toHaveLength(2);
  });
});

import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getBackup, listBackups } from "@/lib/backups/queries";
import { createDestination } from "@/lib/destinations/mutations";
import { env } from "@/lib/env";
import { createSchedule, updateSchedule } from "@/lib/schedules/mutations";
import { updateScheduleSchema } from "@/lib/schedules/schemas";
import { getSchedule } from "@/lib/schedules/queries";
import { DEFAULT_POLICY } from "@/lib/retention/select";
import { claimDueSchedulesAllTeams } from "@/lib/schedules/due";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { insertBackupRow, insertLocationRow, scheduleNextRun, setBackupRow, setScheduleRow } from "@/test/arrange";
import { copySchedule } from "@/test/at-scale";
import { signedUpUser } from "@/test/factories";
import { inngest } from "../client";
import { backupEvent, backupRequested } from "../events";
import { InProcessEngine, inProcessEngine } from "../in-process";
import type { AnyFunction } from "../sdk-adapter";
import { scheduleTick } from "./schedule-tick";
import { sweepRuns } from "./sweep-runs";

let engine: InProcessEngine;
let scratch: string;

beforeAll(async () => {
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  scratch = mkdtempSync(path.join(tmpdir(), "coffer-tick-"));
});
afterAll(() => engine?.stop());

/** A team with the Coffer host as server, a folder to back up, a local-disk destination and an hourly schedule. */
async function scheduled() {
  const user = await signedUpUser("Sched");
  const t = await user.team("admin");
  const folder = mkdtempSync(path.join(scratch, "data-"));
  writeFileSync(path.join(folder, "notes.txt"), "hello");
  const { id: serverId } = await createServer(t, { kind: "local", name: "this host", workDir: "/var/tmp" });
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "directory",
    name: "notes",
    paths: [folder],
    excludes: [],
  });
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix: "tick" });
  const { id: scheduleId } = await createSchedule(t, {
    name: "hourly",
    serverId,
    sourceIds: [sourceId],
    destinationIds: [destinationId],
    when: { kind: "hourly", minute: 5 },
    timezone: "Europe/Berlin",
    encrypted: true,
    enabled: true,
    verify: false,
    retention: DEFAULT_POLICY,
  });
  return { t, scheduleId, serverId, sourceId, destinationId };
}

const setNextRun = (scheduleId: string, at: Date) => setScheduleRow(scheduleId, { nextRunAt: at });

describe("schedule-tick", () => {
  it("queues every due schedule once for its slot, even when ticks race over 10 000 of them, and moves each on", async () => {
    const s = await scheduled();
    const slot = new Date(Date.now() - 3 * 3600_000 - 60_000); // three slots were missed (downtime)
    await setNextRun(s.scheduleId, slot);
    // 9 999 more due in the same minute; yearly, so no later tick here finds them due again.
    const copies = await copySchedule(s.scheduleId, 9_999, { nextRunAt: slot, cron: "5 3 1 1 *" });
    // Two instances' ticks (engines of their own, whose dispatched backups are recorded, not run)
    // and a direct claim at once: one backup per slot, however they interleave.
    const dispatched: string[] = [];
    const recorder = inngest.createFunction(
      { id: "record-dispatched-backups", triggers: [backupRequested] },
      async ({ event }) => void dispatched.push(event.data.backupId),
    );
    const instances = [0, 1].map(() => new InProcessEngine([scheduleTick, recorder] as AnyFunction[]));
    for (const i of instances) i.runCron(scheduleTick);
    const direct = await claimDueSchedulesAllTeams();
    await Promise.all(instances.map((i) => i.idle()));
    await Promise.all(instances.map((i) => i.stop()));

    const rows = [];
    let before;
    do {
      const page = await listBackups(s.t, { before, limit: 200 });
      rows.push(...page.rows);
      before = page.next;
    } while (before);
    expect(rows).toHaveLength(10_000);
    expect(new Set(rows.map((r) => r.scheduleId))).toEqual(new Set([s.scheduleId, ...copies]));
    expect(
      rows.every(
        (r) => r.trigger === "schedule" && r.scheduledFor?.getTime() === slot.getTime() && r.encrypted === true,
      ),
    ).toBe(true);
    // The ticks dispatched every backup they queued, once; the direct claim's are left for the sweeper.
    expect(new Set(dispatched).size).toBe(dispatched.length);
    expect([...dispatched, ...direct.due.map((d) => d.backupId)].sort()).toEqual(rows.map((r) => r.id).sort());

    const schedule = await getSchedule(s.t, s.scheduleId);
    expect(schedule.upcoming[0]!.getTime()).toBeGreaterThan(Date.now());
    const next = (await scheduleNextRun(s.scheduleId))!;
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getUTCMinutes()).toBe(5);
    expect((await scheduleNextRun(copies.at(-1)!))!.getTime()).toBeGreaterThan(Date.now());

    // A slot whose event was lost (claimed, never dispatched) still runs: the sweeper dispatches its
    // backup once it has waited (runs are idempotent on the id).
    const lost = copies[0]!;
    await setNextRun(lost, new Date(Date.now() - 60_000));
    const { due } = await claimDueSchedulesAllTeams();
    expect(due).toHaveLength(1);
    expect((await getBackup(s.t, due[0]!.backupId)).status).toBe("queued");
    await setBackupRow(due[0]!.backupId, { createdAt: new Date(Date.now() - 10 * 60_000) });
    engine.runCron(sweepRuns);
    await engine.idle();
    expect((await getBackup(s.t, due[0]!.backupId)).status).toBe("succeeded");

    // A slot whose event the engine took but that started nothing (an Inngest server that had it
    // before the app's functions were synced, here an engine without them): the sweeper's
    // redispatch starts it all the same, and only once.
    await setNextRun(lost, new Date(Date.now() - 60_000));
    const [unsynced] = (await claimDueSchedulesAllTeams()).due;
    await new InProcessEngine([]).send([backupEvent(unsynced!)]);
    await setBackupRow(unsynced!.backupId, { createdAt: new Date(Date.now() - 10 * 60_000) });
    engine.runCron(sweepRuns);
    engine.runCron(sweepRuns);
    await engine.idle();
    const started = await getBackup(s.t, unsynced!.backupId);
    expect(started).toMatchObject({ status: "succeeded", attempts: 1 });

    // Nothing is due now: another tick creates nothing.
    engine.runCron(scheduleTick);
    await engine.idle();
    expect((await listBackups(s.t, { scheduleId: s.scheduleId })).rows).toHaveLength(1);
  });

  it("compresses a schedule's backups as the schedule says, and the row and manifest say so", async () => {
    const s = await scheduled();
    expect((await getSchedule(s.t, s.scheduleId)).compression).toBe("fast"); // the default
    // Saved as the form saves it: through the action's schema.
    const input = updateScheduleSchema.parse({
      scheduleId: s.scheduleId,
      name: "hourly",
      serverId: s.serverId,
      sourceIds: [s.sourceId],
      destinationIds: [s.destinationId],
      when: { kind: "hourly", minute: 5 },
      timezone: "Europe/Berlin",
      encrypted: true,
      verify: false,
      compression: "small",
    });
    await updateSchedule(s.t, input);
    expect((await getSchedule(s.t, s.scheduleId)).compression).toBe("small");
    await setNextRun(s.scheduleId, new Date(Date.now() - 60_000));
    engine.runCron(scheduleTick);
    await engine.idle();
    const [row] = (await listBackups(s.t, { scheduleId: s.scheduleId })).rows;
    expect(row).toMatchObject({ trigger: "schedule", status: "succeeded", compression: "small" });
    const b = await getBackup(s.t, row!.id);
    // This host has pigz: small is pigz -9.
    expect(b.manifest).toMatchObject({ compression: { setting: "small", tool: "pigz", level: 9 } });
    expect(b.compressedBy).toEqual({ setting: "small", tool: "pigz", level: 9 });
  });

  it("skips paused schedules", async () => {
    const s = await scheduled();
    await setNextRun(s.scheduleId, new Date(Date.now() - 60_000));
    await setScheduleRow(s.scheduleId, { enabled: false });
    engine.runCron(scheduleTick);
    await engine.idle();
    expect((await listBackups(s.t, { scheduleId: s.scheduleId })).rows).toEqual([]);
  });
});

describe("sweep-runs", () => {
  it("fails a run whose process died and removes what it had written", async () => {
    const s = await scheduled();
    const { id: destinationId } = await createDestination(s.t, {
      kind: "local",
      name: `disk-${randomBytes(3).toString("hex")}`,
      prefix: "swept",
    });
    const id = await insertBackupRow({
      teamId: s.t.id,
      serverId: s.serverId,
      trigger: "manual",
      status: "running",
      encrypted: false,
      sourceIds: [],
      destinationIds: [destinationId],
      fileName: "x.tar.gz",
      startedAt: new Date(Date.now() - 600_000),
      heartbeatAt: new Date(Date.now() - 120_000),
    });
    const objectKey = `${s.serverId}/partial.tar.gz`;
    const file = path.join(env().DATA_DIR, "storage", s.t.id, "swept", objectKey);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, "half an archive");
    await insertLocationRow({ teamId: s.t.id, backupId: id, destinationId, objectKey, status: "writing" });

    engine.runCron(sweepRuns);
    await engine.idle();
    const after = await getBackup(s.t, id);
    expect(after.status).toBe("failed");
    expect(after.error).toMatch(/^The run stopped making progress/);
    expect(after.locations.map((l) => l.status)).toEqual(["deleted"]);
    expect(existsSync(file)).toBe(false);
  });
});

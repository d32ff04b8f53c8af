import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertBackupRow, setScheduleHealthRow, setScheduleRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { startReceiver, type Receiver } from "@/test/servers/webhook-receiver";
import { createDestination } from "../destinations/mutations";
import { createSchedule, setScheduleEnabled } from "../schedules/mutations";
import { createServer } from "../servers/mutations";
import { createSource } from "../servers/source-mutations";
import { createChannel } from "../webhooks/channels";
import { deliverChannel } from "../webhooks/deliver";
import { detectStaleSchedulesAllTeams } from "./stale";
import { teamHealth } from "./overview";

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(() => receiver?.stop());

const day = 86_400_000;

/** A team with a daily schedule and an endpoint that takes stale and recovered events. */
async function setup() {
  const t = await (await signedUpUser("Stale")).team("admin");
  const { id: serverId } = await createServer(t, { kind: "local", name: "db-1", workDir: "/var/tmp" });
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "directory",
    name: "etc",
    paths: ["/etc/hostname"],
    excludes: [],
  });
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk" });
  const { id: scheduleId } = await createSchedule(t, {
    name: "nightly",
    serverId,
    sourceIds: [sourceId],
    destinationIds: [destinationId],
    when: { kind: "daily", time: "02:00" },
    timezone: "UTC",
    encrypted: true,
    enabled: true,
    verify: false,
    retention: { keepAll: true, last: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0 },
  });
  const path = `/stale-${scheduleId}`;
  const { id: channelId } = await createChannel(t, {
    kind: "webhook",
    url: receiver.url(path),
    description: "",
    events: ["backup.stale", "backup.recovered"],
  });
  const succeeded = (finishedAt: Date) =>
    insertBackupRow({
      teamId: t.id,
      serverId,
      scheduleId,
      trigger: "schedule",
      status: "succeeded",
      encrypted: true,
      sourceIds: [sourceId],
      destinationIds: [destinationId],
      fileName: `db-1-${finishedAt.getTime()}.tar.gz`,
      startedAt: new Date(finishedAt.getTime() - 60_000),
      finishedAt,
    });
  const received = async () => {
    await deliverChannel(t.id, channelId, 1_000);
    return receiver.at(path).map((r) => JSON.parse(r.body) as { type: string; data: Record<string, never> });
  };
  return { t, scheduleId, serverId, sourceId, destinationId, succeeded, received };
}

/** `n` passes of the detector, at `at` (a clock moved forward stands in for time passing). */
async function ticks(n: number, at = new Date()) {
  for (let i = 0; i < n; i++) await detectStaleSchedulesAllTeams(at);
}
const later = (ms: number) => new Date(Date.now() + ms);

describe("stale-backup detection", () => {
  it("sends one backup.stale across many ticks, and one backup.recovered after a new success", async () => {
    const s = await setup();
    await ticks(1);
    await setScheduleHealthRow(s.scheduleId, { watchedSince: new Date(Date.now() - 10 * day) }); // watched for long
    await s.succeeded(new Date(Date.now() - 2 * day + 3_600_000)); // 47 hours ago: a daily schedule is not stale yet
    await ticks(3);
    expect(await s.received()).toEqual([]);

    await ticks(5, later(2 * 3_600_000)); // two hours on, that backup is 49 hours old
    const stale = await s.received();
    expect(stale.map((e) => e.type)).toEqual(["backup.stale"]);
    expect(stale[0]!.data).toMatchObject({
      schedule: { id: s.scheduleId, name: "nightly" },
      server: { name: "db-1" },
      staleAfterSeconds: 2 * 86_400,
    });
    expect((await teamHealth(s.t)).schedules[0]).toMatchObject({ id: s.scheduleId, state: "stale" });

    const fresh = await s.succeeded(later(2 * 3_600_000 + 30_000));
    await ticks(4, later(2 * 3_600_000 + 60_000));
    const all = await s.received();
    expect(all.map((e) => e.type)).toEqual(["backup.stale", "backup.recovered"]);
    expect(all[1]!.data).toMatchObject({ backup: { id: fresh }, staleSince: stale[0]!.data.staleSince });
    expect((await teamHealth(s.t)).schedules[0]).toMatchObject({ state: "ok" });

    // It can go stale again: a new episode, a new event.
    await ticks(2, later(3 * day));
    expect((await s.received()).map((e) => e.type)).toEqual(["backup.stale", "backup.recovered", "backup.stale"]);
  });

  it("a schedule that never succeeded is stale once it has been watched longer than its threshold; a paused one is not watched", async () => {
    const s = await setup();
    await ticks(1);
    await setScheduleHealthRow(s.scheduleId, { watchedSince: new Date(Date.now() - 3 * day) });
    await setScheduleEnabled(s.t, s.scheduleId, false);
    await ticks(2);
    expect(await s.received()).toEqual([]);
    // Resumed: its clock starts again, so a schedule paused for a week is not stale at once.
    await setScheduleEnabled(s.t, s.scheduleId, true);
    await ticks(2);
    expect(await s.received()).toEqual([]);
    await setScheduleHealthRow(s.scheduleId, { watchedSince: new Date(Date.now() - 3 * day) });
    await ticks(2);
    const events = await s.received();
    expect(events.map((e) => e.type)).toEqual(["backup.stale"]);
    expect(events[0]!.data).toMatchObject({ lastSuccessAt: null });
  });

  it("a longer grace period on the schedule keeps it from being stale, without a recovery event", async () => {
    const s = await setup();
    await ticks(1);
    await setScheduleHealthRow(s.scheduleId, { watchedSince: new Date(Date.now() - 10 * day) });
    await s.succeeded(new Date(Date.now() - 3 * day));
    await ticks(1);
    expect((await s.received()).map((e) => e.type)).toEqual(["backup.stale"]);
    await setScheduleRow(s.scheduleId, { staleGraceMinutes: 3 * 24 * 60 });
    await ticks(2);
    expect((await s.received()).map((e) => e.type)).toEqual(["backup.stale"]);
    expect((await teamHealth(s.t)).schedules[0]).toMatchObject({ state: "ok", staleAfterMs: 4 * day });
  });

  it("the health panel lists failing and stale schedules first, then the others, and each server's last good and verified backup", async () => {
    const s = await setup(); // "nightly" goes stale below
    const another = async (name: string, enabled = true) =>
      (
        await createSchedule(s.t, {
          name,
          serverId: s.serverId,
          sourceIds: [s.sourceId],
          destinationIds: [s.destinationId],
          when: { kind: "hourly", minute: 5 },
          timezone: "UTC",
          encrypted: true,
          enabled,
          verify: false,
          retention: { keepAll: true, last: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0 },
          staleGraceHours: 6,
        })
      ).id;
    const ok = await another("a-ok");
    const failing = await another("b-failing");
    await another("d-paused", false);
    const at = new Date(Date.now() - 30 * 60_000);
    const row = {
      teamId: s.t.id,
      serverId: s.serverId,
      trigger: "schedule" as const,
      encrypted: true,
      sourceIds: [s.sourceId],
      destinationIds: [s.destinationId],
    };
    await insertBackupRow({
      ...row,
      scheduleId: ok,
      status: "succeeded",
      fileName: "ok.tar.gz",
      finishedAt: at,
      verifiedAt: at,
    });
    await insertBackupRow({
      ...row,
      scheduleId: failing,
      status: "failed",
      fileName: "f.tar.gz",
      finishedAt: at,
      error: "disk full",
    });
    await ticks(1);
    await setScheduleHealthRow(s.scheduleId, { watchedSince: new Date(Date.now() - 10 * day) });
    await ticks(1);
    const health = await teamHealth(s.t);
    expect(health.schedules.map((x) => [x.name, x.state])).toEqual([
      ["b-failing", "failing"],
      ["nightly", "stale"],
      ["a-ok", "ok"],
      ["d-paused", "paused"],
    ]);
    expect(health.schedules[0]!.error).toBe("disk full");
    expect(health.schedules[2]!.staleAfterMs).toBe(3600_000 + 6 * 3600_000); // an hour, plus the 6 hours set on it
    expect(health.servers).toEqual([expect.objectContaining({ name: "db-1", lastGood: at, lastVerified: at })]);
  });
});

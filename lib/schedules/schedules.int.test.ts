import { describe, expect, it } from "vitest";
import { scheduleNextRun, setScheduleRow } from "@/test/arrange";
import { backupLinkCounts, copySchedule } from "@/test/at-scale";
import { signedUpUser } from "@/test/factories";
import { listBackups } from "../backups/queries";
import { createDestination, deleteDestination } from "../destinations/mutations";
import { AppError } from "../errors";
import { createServer, deleteServer } from "../servers/mutations";
import { createSource, deleteSource } from "../servers/source-mutations";
import { claimDueSchedulesAllTeams, type DueBackup } from "./due";
import { createSchedule, deleteSchedule, setScheduleEnabled, updateSchedule } from "./mutations";
import { getSchedule, listSchedules } from "./queries";
import { DEFAULT_POLICY } from "../retention/select";

const code = (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (e: unknown) => (e instanceof AppError ? e.code : `unexpected: ${String(e)}`),
  );

async function setup() {
  const a = await signedUpUser("Alice");
  const t = await a.team("owner");
  const { id: serverId } = await createServer(t, { kind: "local", name: "db1", workDir: "/tmp" });
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "directory",
    name: "etc",
    paths: ["/etc"],
    excludes: [],
  });
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk" });
  const input = {
    name: "nightly",
    serverId,
    sourceIds: [sourceId],
    destinationIds: [destinationId],
    when: { kind: "daily" as const, time: "02:00" },
    timezone: "Europe/Berlin",
    encrypted: true,
    enabled: true,
    verify: true,
    retention: { ...DEFAULT_POLICY, weekly: 8 },
  };
  return { a, t, serverId, sourceId, destinationId, input };
}

describe("schedules", () => {
  it("are stored with their next run in the schedule's time zone, and described in words", async () => {
    const { t, input } = await setup();
    const { id } = await createSchedule(t, input);
    const s = await getSchedule(t, id);
    expect(s).toMatchObject({
      name: "nightly",
      serverName: "db1",
      cron: "0 2 * * *",
      when: "Daily at 02:00",
      keeps: "keeps the last 7 days, 8 weeks, 6 months — about 21 backups",
      timezone: "Europe/Berlin",
      encrypted: true,
      enabled: true,
      sources: [{ name: "etc" }],
      destinations: [{ name: "disk" }],
    });
    expect(s.upcoming).toHaveLength(3);
    expect(s.nextRunAt?.toISOString()).toBe(s.upcoming[0]!.toISOString());
    const berlinHour = new Intl.DateTimeFormat("en-GB", {
      timeZone: "Europe/Berlin",
      hour: "2-digit",
      minute: "2-digit",
    }).format(s.nextRunAt!);
    expect(berlinHour).toBe("02:00");

    await setScheduleEnabled(t, id, false);
    expect(await getSchedule(t, id)).toMatchObject({ enabled: false, nextRunAt: null, upcoming: [] });
    await setScheduleEnabled(t, id, true);
    expect((await getSchedule(t, id)).nextRunAt).not.toBeNull();

    await updateSchedule(t, {
      ...input,
      scheduleId: id,
      when: { kind: "cron", cron: "*/15 * * * *" },
      encrypted: false,
    });
    expect(await getSchedule(t, id)).toMatchObject({ when: "Cron */15 * * * *", encrypted: false });
    await deleteSchedule(t, id);
    expect(await listSchedules(t)).toEqual([]);
  });

  it("an edit keeps the run the schedule is waiting for, and one already due after downtime, which the list shows as due", async () => {
    const { t, input } = await setup();
    const { id } = await createSchedule(t, input);
    const waiting = await scheduleNextRun(id);
    await updateSchedule(t, { ...input, scheduleId: id, name: "nightly-db" });
    expect(await scheduleNextRun(id)).toEqual(waiting);

    // Coffer was down over the last three nights: one run is due at the next check.
    const missed = new Date(Date.now() - 3 * 86_400_000);
    await setScheduleRow(id, { nextRunAt: missed });
    const listed = await getSchedule(t, id);
    expect(listed).toMatchObject({ overdue: true, upcoming: [missed, expect.any(Date), expect.any(Date)] });
    // Then the slots after now: the catch-up run moves the schedule past those missed.
    expect(listed.upcoming[1]!.getTime()).toBeGreaterThan(Date.now());
    await updateSchedule(t, { ...input, scheduleId: id, retention: { ...input.retention, daily: 10 } });
    expect(await scheduleNextRun(id)).toEqual(missed);
    await updateSchedule(t, { ...input, scheduleId: id, when: { kind: "daily", time: "03:00" } });
    expect(await scheduleNextRun(id)).toEqual(missed);
    const { due } = await claimDueSchedulesAllTeams();
    expect(due.map((b: DueBackup) => b.scheduleId)).toContain(id);

    // A new time with nothing due: the next slot of the new time.
    await updateSchedule(t, { ...input, scheduleId: id, when: { kind: "daily", time: "04:30" } });
    const next = (await scheduleNextRun(id))!;
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Berlin", timeStyle: "short" }).format(next)).toBe(
      "04:30",
    );
  });

  it("refuses a bad expression or zone with a field error, and sources of another server", async () => {
    const { t, input, serverId } = await setup();
    await expect(createSchedule(t, { ...input, when: { kind: "cron", cron: "every night" } })).rejects.toMatchObject({
      code: "VALIDATION",
      fieldErrors: { "when.cron": ["Use five fields, e.g. 0 2 * * *."] },
    });
    await expect(createSchedule(t, { ...input, timezone: "Nowhere/Land" })).rejects.toMatchObject({
      code: "VALIDATION",
      fieldErrors: { timezone: ["Choose a time zone from the list."] },
    });
    const { id: other } = await createServer(t, { kind: "local", name: "db2", workDir: "/tmp" });
    const { id: otherSource } = await createSource(t, {
      serverId: other,
      kind: "directory",
      name: "var",
      paths: ["/var"],
      excludes: [],
    });
    await expect(createSchedule(t, { ...input, sourceIds: [otherSource] })).rejects.toThrow(
      "Choose sources of the schedule's server.",
    );
    expect(serverId).not.toBe(other);
  });

  it("a source or destination in use cannot be deleted; deleting the server takes its schedules along", async () => {
    const { t, input, sourceId, destinationId, serverId } = await setup();
    await createSchedule(t, input);
    await expect(deleteSource(t, sourceId)).rejects.toThrow(
      "Schedule nightly still backs up this source. Remove it from the schedule first.",
    );
    await expect(deleteDestination(t, destinationId)).rejects.toThrow(
      "Schedule nightly still sends backups to this destination. Remove it from the schedule first.",
    );
    await deleteServer(t, serverId);
    expect(await listSchedules(t)).toEqual([]);
    await deleteDestination(t, destinationId);
  });

  it("another team's server, sources, destinations and schedules are NOT_FOUND", async () => {
    const { t, input } = await setup();
    const { id } = await createSchedule(t, input);
    const m = await signedUpUser("Mallory");
    const tm = await m.team("owner");
    expect(await code(createSchedule(tm, input))).toBe("NOT_FOUND");
    expect(await code(getSchedule(tm, id))).toBe("NOT_FOUND");
    expect(await code(updateSchedule(tm, { ...input, scheduleId: id }))).toBe("NOT_FOUND");
    expect(await code(setScheduleEnabled(tm, id, false))).toBe("NOT_FOUND");
    expect(await code(deleteSchedule(tm, id))).toBe("NOT_FOUND");
    const { id: ownDest } = await createDestination(tm, { kind: "local", name: "mine" });
    const { id: ownServer } = await createServer(tm, { kind: "local", name: "mine", workDir: "/tmp" });
    expect(await code(createSchedule(tm, { ...input, serverId: ownServer, destinationIds: [ownDest] }))).toBe(
      "VALIDATION",
    ); // A's source on M's server
    expect((await getSchedule(t, id)).enabled).toBe(true);
  });

  it("queues 10 000 schedules due in the same minute once each, however many claims race", async () => {
    const { t, input } = await setup();
    const { id } = await createSchedule(t, input);
    const slot = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000);
    await setScheduleRow(id, { nextRunAt: slot });
    const ids = [id, ...(await copySchedule(id, 9_999, { nextRunAt: slot }))];
    const claimAll = async () => {
      const out: DueBackup[] = [];
      for (let more = true; more;) {
        const claim = await claimDueSchedulesAllTeams();
        out.push(...claim.due);
        more = claim.more;
      }
      return out;
    };
    const claimed = (await Promise.all([claimAll(), claimAll(), claimAll()])).flat();
    expect(claimed).toHaveLength(10_000);
    expect(new Set(claimed.map((c) => c.scheduleId))).toEqual(new Set(ids));
    expect(claimed.every((c) => c.slot.getTime() === slot.getTime())).toBe(true);

    // What the team sees: one queued backup per schedule for the slot, read page by page as the list pages.
    const rows = [];
    let before;
    do {
      const page = await listBackups(t, { before, limit: 200 });
      rows.push(...page.rows);
      before = page.next;
    } while (before);
    expect(rows).toHaveLength(10_000);
    expect(new Set(rows.map((r) => r.scheduleId)).size).toBe(10_000);
    expect(
      rows.every(
        (r) => r.trigger === "schedule" && r.status === "queued" && r.scheduledFor?.getTime() === slot.getTime(),
      ),
    ).toBe(true);
    expect(await backupLinkCounts(t.id)).toEqual({ "1×1": 10_000 });
    // Each moved to its next slot (02:00 in Berlin), so nothing is due any more.
    for (const s of [id, ids[4_321]!, ids.at(-1)!])
      expect((await scheduleNextRun(s))!.getTime()).toBeGreaterThan(Date.now());
    expect(await claimDueSchedulesAllTeams()).toEqual({ due: [], more: false });

    // A slot that already has its backup (the schedule set back to it) gets no second one.
    await setScheduleRow(id, { nextRunAt: slot });
    expect(await claimDueSchedulesAllTeams()).toEqual({ due: [], more: false });
    expect((await scheduleNextRun(id))!.getTime()).toBeGreaterThan(Date.now());
    expect((await listBackups(t, { scheduleId: id })).rows).toHaveLength(1);
  });
});

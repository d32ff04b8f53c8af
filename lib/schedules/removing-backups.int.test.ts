import { describe, expect, it } from "vitest";
import { insertBackupRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { getBackup } from "../backups/queries";
import { createDestination } from "../destinations/mutations";
import { applyRetention, previewRetention } from "../retention/apply";
import { updateTeamRetention } from "../retention/policies";
import { DEFAULT_POLICY } from "../retention/select";
import { createServer } from "../servers/mutations";
import { createSource } from "../servers/source-mutations";
import type { TeamContext } from "../teams/context";
import { db } from "../db";
import { scheduleHealth } from "@/db/schema";
import { eq } from "drizzle-orm";
import { createSchedule, deleteSchedule, updateSchedule } from "./mutations";
import { getSchedule, listSchedules } from "./queries";
import type { UpdateScheduleInput } from "./schemas";

// Two backups an hour apart around midnight in Berlin (UTC+1 in January): each the only one of its
// day there, but on the same day in UTC, where the older one is no longer the newest of its day.
const beforeMidnight = new Date("2025-01-10T22:30:00Z"); // 23:30 on the 10th in Berlin
const afterMidnight = new Date("2025-01-10T23:30:00Z"); // 00:30 on the 11th in Berlin

const as = (t: TeamContext, role: "admin" | "member"): TeamContext => ({
  ...t,
  role,
  actor: { userId: null, label: `${role}@example.test`, ip: null },
});

/** A schedule in Berlin keeping the runbook's policy, with its two backups around midnight. */
async function berlinSchedule() {
  const owner = await signedUpUser("Olga");
  const t = await owner.team("owner");
  const { id: serverId } = await createServer(t, { kind: "local", name: "db1", workDir: "/var/tmp" });
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "directory",
    name: "etc",
    paths: ["/etc/hostname"],
    excludes: [],
  });
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk" });
  const schedule: UpdateScheduleInput = {
    scheduleId: "",
    name: "nightly",
    serverId,
    sourceIds: [sourceId],
    destinationIds: [destinationId],
    when: { kind: "daily", time: "00:30" },
    timezone: "Europe/Berlin",
    encrypted: false,
    enabled: false,
    retention: DEFAULT_POLICY,
    verify: false,
  };
  schedule.scheduleId = (await createSchedule(t, schedule)).id;
  const backup = (at: Date, scheduleId: string | null, i: number) =>
    insertBackupRow({
      teamId: t.id,
      serverId,
      scheduleId,
      scheduledFor: scheduleId ? at : null,
      trigger: scheduleId ? "schedule" : "manual",
      status: "succeeded",
      encrypted: false,
      startedAt: at,
      finishedAt: new Date(at.getTime() + 60_000),
      fileName: `db1-${i}.tar.gz`,
      manifest: { sources: [{ id: sourceId }] },
      sourceIds: [sourceId],
      destinationIds: [destinationId],
    });
  const older = await backup(beforeMidnight, schedule.scheduleId, 1);
  const newer = await backup(afterMidnight, schedule.scheduleId, 2);
  return { t, serverId, sourceId, destinationId, schedule, backup, older, newer };
}

const statuses = async (t: TeamContext, ids: string[]) =>
  Promise.all(ids.map(async (id) => (await getBackup(t, id)).status));

describe("a member cannot make retention trash backups, whatever the counts", () => {
  it("a time zone that puts two kept backups on one day needs an admin; the message counts what would go", async () => {
    const h = await berlinSchedule();
    await expect(updateSchedule(as(h.t, "member"), { ...h.schedule, timezone: "UTC" })).rejects.toMatchObject({
      code: "FORBIDDEN",
      message:
        "Counting days in UTC instead of Europe/Berlin would move 1 backup that retention keeps now to the trash, so it needs an admin. Ask an admin, or keep the current time zone (Europe/Berlin).",
      fieldErrors: { timezone: ["Only an admin can: 1 backup would go to the trash."] },
    });
    expect((await getSchedule(h.t, h.schedule.scheduleId)).timezone).toBe("Europe/Berlin");
    expect((await applyRetention(h.t.id, { scheduleId: h.schedule.scheduleId })).trashed).toBe(0);
    // The form's Preview counts days in the time zone chosen in it, not yet saved: it shows the same.
    const expiring = async (timeZone?: string) =>
      (await previewRetention(h.t, { scheduleId: h.schedule.scheduleId }, DEFAULT_POLICY, timeZone)).decisions
        .filter((d) => !d.keep)
        .map((d) => d.fileName);
    expect(await expiring()).toEqual([]);
    expect(await expiring("UTC")).toEqual(["db1-1.tar.gz"]);
    await expect(expiring("Mars/Olympus")).rejects.toMatchObject({ code: "VALIDATION" });

    // An admin may, and saving applies it as the message said.
    await updateSchedule(as(h.t, "admin"), { ...h.schedule, timezone: "UTC" });
    expect((await applyRetention(h.t.id, { scheduleId: h.schedule.scheduleId })).trashed).toBe(1);
    expect(await statuses(h.t, [h.older, h.newer])).toEqual(["trashed", "succeeded"]);
  });

  it("a member's time zone change that leaves every backup kept is saved", async () => {
    const h = await berlinSchedule();
    // Lagos is UTC+1 all year: the two backups stay on days of their own.
    await updateSchedule(as(h.t, "member"), { ...h.schedule, timezone: "Africa/Lagos" });
    expect((await getSchedule(h.t, h.schedule.scheduleId)).timezone).toBe("Africa/Lagos");
    expect((await applyRetention(h.t.id, { scheduleId: h.schedule.scheduleId })).trashed).toBe(0);
    expect(await statuses(h.t, [h.older, h.newer])).toEqual(["succeeded", "succeeded"]);
  });

  it("deleting a schedule whose backups would share UTC days with the server's other backups needs an admin", async () => {
    const h = await berlinSchedule();
    await updateTeamRetention(h.t, DEFAULT_POLICY); // keeps no less than the schedule's policy
    // "Back up now" of the same source later that UTC day: after the delete, the newest of the day.
    const manual = await h.backup(new Date("2025-01-10T23:45:00Z"), null, 3);
    await expect(deleteSchedule(as(h.t, "member"), h.schedule.scheduleId)).rejects.toMatchObject({
      code: "FORBIDDEN",
      message:
        "Its backups would then follow the team's default policy (days in UTC, together with the server's other backups of the same sources), which would move 2 backups that retention keeps now to the trash: deleting this schedule needs an admin. Ask an admin, or pause the schedule instead.",
    });
    expect((await listSchedules(h.t)).map((s) => s.id)).toEqual([h.schedule.scheduleId]);

    // A schedule whose backups would all stay kept is deleted by a member as before.
    const { id: otherSource } = await createSource(h.t, {
      serverId: h.serverId,
      kind: "directory",
      name: "var",
      paths: ["/var/tmp"],
      excludes: [],
    });
    const { id: weekly } = await createSchedule(h.t, {
      ...h.schedule,
      name: "weekly",
      sourceIds: [otherSource],
      when: { kind: "weekly", weekday: 0, time: "03:00" },
    });
    await insertBackupRow({
      teamId: h.t.id,
      serverId: h.serverId,
      scheduleId: weekly,
      scheduledFor: afterMidnight,
      trigger: "schedule",
      status: "succeeded",
      encrypted: false,
      startedAt: afterMidnight,
      finishedAt: afterMidnight,
      fileName: "db1-var.tar.gz",
      manifest: { sources: [{ id: otherSource }] },
      sourceIds: [otherSource],
      destinationIds: [h.destinationId],
    });
    await deleteSchedule(as(h.t, "member"), weekly);

    // An admin may delete the first one; the next run trashes what the message counted.
    await deleteSchedule(as(h.t, "admin"), h.schedule.scheduleId);
    expect((await applyRetention(h.t.id, { serverId: h.serverId })).trashed).toBe(2);
    expect(await statuses(h.t, [h.older, h.newer, manual])).toEqual(["trashed", "trashed", "succeeded"]);
  });

  it("a schedule moved to another server lets go of its backups: the new server's do not push them out of retention", async () => {
    const h = await berlinSchedule();
    const { id: db2 } = await createServer(h.t, { kind: "local", name: "db2", workDir: "/var/tmp" });
    const { id: db2Source } = await createSource(h.t, {
      serverId: db2,
      kind: "directory",
      name: "etc",
      paths: ["/etc/hostname"],
      excludes: [],
    });
    // Adding a source keeps them: the new backups hold everything the earlier ones did.
    const { id: more } = await createSource(h.t, {
      serverId: h.serverId,
      kind: "directory",
      name: "var",
      paths: ["/var/tmp"],
      excludes: [],
    });
    await updateSchedule(as(h.t, "member"), { ...h.schedule, sourceIds: [h.sourceId, more] });
    expect((await getBackup(h.t, h.older)).scheduleId).toBe(h.schedule.scheduleId);
    const moved = { ...h.schedule, serverId: db2, sourceIds: [db2Source] };
    // db1's two backups would share a UTC day under the team's default policy: a member may not.
    await updateTeamRetention(h.t, DEFAULT_POLICY);
    await expect(updateSchedule(as(h.t, "member"), moved)).rejects.toMatchObject({
      code: "FORBIDDEN",
      message:
        "Backing up another server, or leaving out a source, leaves this schedule's backups to follow the team's default policy (days in UTC, together with the server's other backups of the same sources), which would move 1 backup that retention keeps now to the trash: this change needs an admin. Ask an admin, or create a new schedule for the new server or sources.",
    });
    expect((await getSchedule(h.t, h.schedule.scheduleId)).serverId).toBe(h.serverId);
    expect((await getBackup(h.t, h.older)).scheduleId).toBe(h.schedule.scheduleId);

    await updateSchedule(as(h.t, "admin"), moved);
    expect((await getBackup(h.t, h.older)).scheduleId).toBeNull();
    expect((await getBackup(h.t, h.newer)).scheduleId).toBeNull();
    const [health] = await (
      await db()
    )
      .select({ watchedSince: scheduleHealth.watchedSince })
      .from(scheduleHealth)
      .where(eq(scheduleHealth.scheduleId, h.schedule.scheduleId));
    expect(Date.now() - health!.watchedSince!.getTime()).toBeLessThan(60_000); // watched afresh, not stale at once

    // Ten nightly runs on db2: every daily, weekly and monthly slot of the schedule is theirs.
    for (let day = 12; day < 22; day++)
      await insertBackupRow({
        teamId: h.t.id,
        serverId: db2,
        scheduleId: h.schedule.scheduleId,
        scheduledFor: new Date(`2025-01-${day}T23:30:00Z`),
        trigger: "schedule",
        status: "succeeded",
        encrypted: false,
        startedAt: new Date(`2025-01-${day}T23:30:00Z`),
        finishedAt: new Date(`2025-01-${day}T23:31:00Z`),
        fileName: `db2-${day}.tar.gz`,
        manifest: { sources: [{ id: db2Source }] },
        sourceIds: [db2Source],
        destinationIds: [h.destinationId],
      });
    expect((await applyRetention(h.t.id, { scheduleId: h.schedule.scheduleId })).trashed).toBe(3);
    expect((await applyRetention(h.t.id, { serverId: h.serverId })).trashed).toBe(1); // db1's two share a UTC day
    expect(await statuses(h.t, [h.older, h.newer])).toEqual(["trashed", "succeeded"]);
  });
});

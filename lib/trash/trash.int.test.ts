import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { listAuditEvents } from "@/lib/audit/queries";
import { openArchive, succeededBackup } from "@/lib/backups/open-archive";
import { getBackup, listBackups } from "@/lib/backups/queries";
import { createDestination } from "@/lib/destinations/mutations";
import { env } from "@/lib/env";
import { applyRetention } from "@/lib/retention/apply";
import { updateTeamRetention } from "@/lib/retention/policies";
import { DEFAULT_POLICY, type RetentionPolicy } from "@/lib/retention/select";
import { createSchedule, deleteSchedule, updateSchedule } from "@/lib/schedules/mutations";
import type { UpdateScheduleInput } from "@/lib/schedules/schemas";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { insertBackupRow, insertLocationRow, setBackupRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import type { TeamContext } from "../teams/context";
import { deleteFromTrash, restoreFromTrash, setTrashDays, trashBackup } from "./mutations";
import { getTrashDays, listTrash } from "./queries";

const day = 86_400_000;
const lastTwo: RetentionPolicy = { keepAll: false, last: 2, daily: 0, weekly: 0, monthly: 0, yearly: 0 };

/** A schedule keeping everything, with `n` stored backups (one a day, newest first) on this host's disk. */
async function history(n: number) {
  const owner = await signedUpUser("Tess");
  const t = await owner.team("owner");
  const { id: serverId } = await createServer(t, { kind: "local", name: "host", workDir: "/var/tmp" });
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "directory",
    name: "etc",
    paths: ["/etc/hostname"],
    excludes: [],
  });
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix: "t" });
  const schedule: UpdateScheduleInput = {
    scheduleId: "",
    name: "nightly",
    serverId,
    sourceIds: [sourceId],
    destinationIds: [destinationId],
    when: { kind: "daily", time: "02:00" },
    timezone: "UTC",
    encrypted: false,
    enabled: false,
    retention: { ...DEFAULT_POLICY, keepAll: true },
    verify: false,
  };
  schedule.scheduleId = (await createSchedule(t, schedule)).id;
  const ids: string[] = [];
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const at = new Date(Date.now() - (i + 1) * day);
    const id = await insertBackupRow({
      teamId: t.id,
      serverId,
      scheduleId: schedule.scheduleId,
      scheduledFor: at,
      trigger: "schedule",
      status: "succeeded",
      encrypted: false,
      startedAt: at,
      finishedAt: at,
      fileName: `host-${i}.tar.gz`,
      sourceIds: [sourceId],
      destinationIds: [destinationId],
    });
    const objectKey = `${serverId}/host-${i}-${id}.tar.gz`;
    const file = path.join(env().DATA_DIR, "storage", t.id, "t", objectKey);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `backup ${i}`);
    await insertLocationRow({ teamId: t.id, backupId: id, destinationId, objectKey, status: "stored", sizeBytes: 8 });
    ids.push(id);
    files.push(file);
  }
  return { owner, t, schedule, ids, files, serverId };
}

async function memberOf(t: TeamContext, role: "admin" | "member"): Promise<TeamContext> {
  return { ...t, role, actor: { userId: null, label: `${role}@example.test`, ip: null } };
}

const status = async (t: TeamContext, id: string) => (await getBackup(t, id)).status;

describe("destructive changes need an admin", () => {
  it("a member cannot shorten a schedule's retention, but may edit the rest; an admin may shorten it", async () => {
    const h = await history(0);
    const member = await memberOf(h.t, "member");
    await expect(updateSchedule(member, { ...h.schedule, retention: lastTwo })).rejects.toMatchObject({
      code: "FORBIDDEN",
      message: expect.stringMatching(/^Keeping fewer backups removes some, so it needs an admin/),
      fieldErrors: { retention: ["Only admins can shorten retention."] },
    });
    await updateSchedule(member, { ...h.schedule, name: "renamed", when: { kind: "daily", time: "03:00" } });
    await updateSchedule(member, { ...h.schedule, retention: { ...lastTwo, keepAll: true, daily: 30 } }); // still keeps everything
    await updateSchedule(await memberOf(h.t, "admin"), { ...h.schedule, name: "renamed", retention: lastTwo });
    await updateSchedule(member, { ...h.schedule, name: "renamed", retention: { ...lastTwo, last: 3 } }); // longer
    expect((await listAuditEvents(h.t, { action: "schedule.updated" })).events).toHaveLength(4);
  });

  it("deleting a schedule whose backups would fall under a shorter team policy needs an admin; they stay as unscheduled", async () => {
    const h = await history(2);
    await updateTeamRetention(h.t, lastTwo); // shorter than the schedule's keep-everything
    await expect(deleteSchedule(await memberOf(h.t, "member"), h.schedule.scheduleId)).rejects.toMatchObject({
      code: "FORBIDDEN",
      message: expect.stringContaining("Its 2 backups would then follow the team's default policy"),
    });
    await deleteSchedule(await memberOf(h.t, "admin"), h.schedule.scheduleId);
    const kept = (await listBackups(h.t)).rows;
    expect(kept.map((b) => [b.status, b.scheduleId])).toEqual([
      ["succeeded", null],
      ["succeeded", null],
    ]);
  });
});

describe("the trash", () => {
  it("retention moves what it expires to the trash; its copies are deleted only after the grace period", async () => {
    const h = await history(4);
    await updateSchedule(h.t, { ...h.schedule, retention: { ...lastTwo, last: 1 } });
    const run = await applyRetention(h.t.id, { scheduleId: h.schedule.scheduleId });
    expect(run).toMatchObject({ trashed: 3, expired: 0, problems: [] });
    expect(await Promise.all(h.ids.map((id) => status(h.t, id)))).toEqual([
      "succeeded",
      "trashed",
      "trashed",
      "trashed",
    ]);
    expect(h.files.map((f) => existsSync(f))).toEqual([true, true, true, true]); // restorable: nothing deleted
    const trash = await listTrash(h.t);
    expect(trash.map((b) => b.id)).toEqual(expect.arrayContaining(h.ids.slice(1)));
    expect(trash[0]).toMatchObject({
      trashedBy: "retention",
      trashedReason: "Removed by schedule nightly: no rule keeps it any longer.",
    });
    expect(trash[0]!.deletesAt.getTime() - trash[0]!.trashedAt!.getTime()).toBe(7 * day); // the default grace period

    // Six days later nothing is deleted yet; after the seventh, everything in the trash is.
    for (const id of h.ids.slice(1)) await setBackupRow(id, { trashedAt: new Date(Date.now() - 6 * day) });
    expect(await applyRetention(h.t.id, { scheduleId: h.schedule.scheduleId })).toMatchObject({ expired: 0 });
    await setBackupRow(h.ids[1]!, { trashedAt: new Date(Date.now() - 7 * day - 60_000) });
    expect(await applyRetention(h.t.id, { scheduleId: h.schedule.scheduleId })).toMatchObject({ expired: 1 });
    expect(h.files.map((f) => existsSync(f))).toEqual([true, false, true, true]);
    const gone = await getBackup(h.t, h.ids[1]!);
    expect(gone).toMatchObject({
      status: "expired",
      expiredReason: "Removed by schedule nightly: no rule keeps it any longer. Deleted after 7 days in the trash.",
    });
    expect(gone.locations.map((l) => l.status)).toEqual(["deleted"]);
    const actions = (await listAuditEvents(h.t, {})).events.map((e) => e.action);
    expect(actions.filter((a) => a === "backup.trashed")).toHaveLength(3);
    expect(actions.filter((a) => a === "backup.expired")).toHaveLength(1);
  });

  it("admins delete a backup to the trash, put it back (retention then leaves it), or delete it now; members cannot", async () => {
    const h = await history(3);
    const member = await memberOf(h.t, "member");
    const admin = await memberOf(h.t, "admin");
    for (const action of [trashBackup, restoreFromTrash, deleteFromTrash])
      await expect(action(member, h.ids[2]!)).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(setTrashDays(member, 30)).rejects.toMatchObject({ code: "FORBIDDEN" });

    await trashBackup(admin, h.ids[2]!);
    await trashBackup(admin, h.ids[1]!);
    expect((await listTrash(h.t)).map((b) => [b.id, b.trashedReason])).toEqual(
      expect.arrayContaining([[h.ids[2], "Deleted by admin@example.test."]]),
    );
    await expect(trashBackup(admin, h.ids[2]!)).rejects.toMatchObject({
      code: "CONFLICT",
      message: "This backup is trashed; only a backup that succeeded can be deleted.",
    });

    await restoreFromTrash(admin, h.ids[2]!);
    expect(await status(h.t, h.ids[2]!)).toBe("succeeded");
    // Put back by hand: a policy that keeps only the latest no longer removes it.
    await updateSchedule(h.t, { ...h.schedule, retention: { ...lastTwo, last: 1 } });
    await applyRetention(h.t.id, { scheduleId: h.schedule.scheduleId });
    expect(await status(h.t, h.ids[2]!)).toBe("succeeded");

    expect(await deleteFromTrash(admin, h.ids[1]!)).toEqual({ id: h.ids[1], problems: [] });
    expect(existsSync(h.files[1]!)).toBe(false);
    expect(await getBackup(h.t, h.ids[1]!)).toMatchObject({
      status: "expired",
      expiredReason: "Deleted by admin@example.test. Deleted from the trash by admin@example.test.",
    });
    await expect(restoreFromTrash(admin, h.ids[1]!)).rejects.toMatchObject({ code: "CONFLICT" });

    const other = await signedUpUser("Otto");
    await expect(trashBackup(await other.team("owner"), h.ids[0]!)).rejects.toMatchObject({ code: "NOT_FOUND" });
    const actions = (await listAuditEvents(h.t, {})).events.map((e) => e.action);
    for (const a of ["backup.trashed", "backup.restored_from_trash", "backup.deleted", "backup.copy_deleted"])
      expect(actions).toContain(a);
  });

  it("a backup sealed under a master key no longer configured is not put back from the trash", async () => {
    const h = await history(1);
    const admin = await memberOf(h.t, "admin");
    await trashBackup(admin, h.ids[0]!);
    await setBackupRow(h.ids[0]!, { headerKeyId: "2019_01" });
    await expect(restoreFromTrash(admin, h.ids[0]!)).rejects.toMatchObject({
      code: "CONFLICT",
      message:
        "This backup was sealed under master key 2019_01, which MASTER_KEYS no longer holds, so it could not be read. Ask whoever runs this Coffer to add that key back (after the active one), then put it back.",
    });
    expect(await status(h.t, h.ids[0]!)).toBe("trashed");
  });

  it("a backup being read as it goes to the trash is neither deleted now nor expired while the read goes on", async () => {
    const h = await history(1);
    const admin = await memberOf(h.t, "admin");
    const download = await openArchive(h.t, await succeededBackup(h.t, h.ids[0]!));
    await trashBackup(admin, h.ids[0]!);
    await expect(deleteFromTrash(admin, h.ids[0]!)).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(
        /^This backup is being read \(a download or restore that started before it went to the trash\): it is held until \d+ \w+ \d{4}, \d\d:\d\d UTC while that goes on\./,
      ),
    });
    await setBackupRow(h.ids[0]!, { trashedAt: new Date(Date.now() - 8 * day) }); // the grace period is over
    expect(await applyRetention(h.t.id, { scheduleId: h.schedule.scheduleId })).toMatchObject({ expired: 0 });
    expect(await status(h.t, h.ids[0]!)).toBe("trashed");
    expect(existsSync(h.files[0]!)).toBe(true);
    expect(Buffer.concat(await download.body.toArray()).toString()).toBe("backup 0");

    // Once nothing reads it (its hold ran out), the next run deletes it.
    await setBackupRow(h.ids[0]!, { readingUntil: new Date(Date.now() - 1_000) });
    expect(await applyRetention(h.t.id, { scheduleId: h.schedule.scheduleId })).toMatchObject({ expired: 1 });
    expect(existsSync(h.files[0]!)).toBe(false);
  });

  it("the grace period is set per team by admins", async () => {
    const h = await history(1);
    expect(await getTrashDays(h.t)).toBe(7);
    expect(await setTrashDays(await memberOf(h.t, "admin"), 30)).toEqual({ days: 30 });
    expect(await getTrashDays(h.t)).toBe(30);
    await trashBackup(h.t, h.ids[0]!);
    const [entry] = await listTrash(h.t);
    expect(entry!.deletesAt.getTime() - entry!.trashedAt!.getTime()).toBe(30 * day);
    expect((await listAuditEvents(h.t, { action: "team.trash_days_changed" })).events).toHaveLength(1);
  });
});

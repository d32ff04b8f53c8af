import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { insertBackupRow, insertLocationRow, setChannelRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { createDestination } from "../destinations/mutations";
import { detectStaleSchedulesAllTeams } from "../health/stale";
import { createSchedule, setScheduleEnabled } from "../schedules/mutations";
import { createChannel, setChannelEnabled } from "../webhooks/channels";
import { createServer } from "../servers/mutations";
import { createSource } from "../servers/source-mutations";
import { checkInstanceToken, instanceMetricsAllTeams, metricHelp, teamMetrics } from "./render";

process.env.METRICS_TOKEN = "operators-metrics-token-0123456789abcdef";

/** promtool's own parser and linter: exit 0 means the scrape is valid Prometheus text. */
function promtoolCheck(text: string) {
  return spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
}

/** A team with a daily schedule, a succeeded and a failed backup of it, and a stored copy on S3's list prices. */
async function team(name: string) {
  const t = await (await signedUpUser(name)).team("admin");
  const { id: serverId } = await createServer(t, { kind: "local", name: `${name}-db`, workDir: "/var/tmp" });
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "directory",
    name: `${name}-etc`,
    paths: ["/etc"],
    excludes: [],
  });
  const { id: destinationId } = await createDestination(t, { kind: "local", name: `${name}-disk` });
  const { id: scheduleId } = await createSchedule(t, {
    name: `${name}-nightly`,
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
  const at = (h: number) => new Date(Date.UTC(2026, 4, 4, h));
  const row = {
    teamId: t.id,
    serverId,
    scheduleId,
    trigger: "schedule" as const,
    encrypted: true,
    sourceIds: [sourceId],
    destinationIds: [destinationId],
  };
  const ok = await insertBackupRow({
    ...row,
    status: "succeeded",
    fileName: "a.tar.gz",
    startedAt: at(2),
    finishedAt: new Date(at(2).getTime() + 90_000),
    sizeBytes: 2_000_000_000,
    verifiedAt: at(3),
  });
  await insertBackupRow({
    ...row,
    status: "failed",
    fileName: "b.tar.gz",
    startedAt: at(4),
    finishedAt: at(5),
    error: "x",
  });
  await insertLocationRow({
    teamId: t.id,
    backupId: ok,
    destinationId,
    objectKey: "k",
    status: "stored",
    sizeBytes: 2_000_000_000,
    storageClass: null,
  });
  return { t, scheduleId, at };
}

const line = (text: string, name: string, labels: string) =>
  text.split("\n").find((l) => l.startsWith(`${name}{`) && labels.split(",").every((p) => l.includes(p)));

describe("Prometheus metrics", () => {
  it("a team's scrape is valid Prometheus text with its own series only, bounded labels", async () => {
    const a = await team("alpha");
    await team("beta");
    const { body, contentType } = await teamMetrics(a.t);
    expect(contentType).toContain("text/plain");
    const checked = promtoolCheck(body);
    expect(checked.status, checked.stderr + checked.stdout).toBe(0);
    for (const name of Object.keys(metricHelp)) expect(body).toContain(`# TYPE ${name} gauge`);
    expect(body).toContain('schedule="alpha-nightly"');
    expect(body).not.toContain("beta");
    expect(body).not.toMatch(/bkp_/); // no backup ids as labels
    const labels = `schedule="alpha-nightly",schedule_id="${a.scheduleId}",server="alpha-db"`;
    expect(line(body, "coffer_schedule_last_success_timestamp_seconds", labels)).toMatch(/ 1777860090$/);
    expect(line(body, "coffer_schedule_last_failure_timestamp_seconds", labels)).toMatch(/ 1777870800$/);
    expect(line(body, "coffer_schedule_last_verified_timestamp_seconds", labels)).toMatch(/ 1777863600$/);
    expect(line(body, "coffer_schedule_last_duration_seconds", labels)).toMatch(/ 90$/);
    expect(line(body, "coffer_schedule_last_size_bytes", labels)).toMatch(/ 2000000000$/);
    expect(line(body, "coffer_schedule_stale_after_seconds", labels)).toMatch(/ 172800$/);
    expect(line(body, "coffer_backups", 'status="failed"')).toMatch(/ 1$/);
    expect(line(body, "coffer_backups", 'status="running"')).toMatch(/ 0$/);
    expect(line(body, "coffer_backups", 'status="trashed"')).toMatch(/ 0$/);
    expect(line(body, "coffer_stored_bytes", 'destination="alpha-disk"')).toMatch(/ 2000000000$/);
    expect(line(body, "coffer_workflows", 'workflow="backup",state="queued"')).toMatch(/ 0$/);
    expect(line(body, "coffer_workflows", 'workflow="delivery",state="queued"')).toMatch(/ 0$/);
    expect(body).not.toContain('workflow="delivery",state="running"');
    expect(line(body, "coffer_source_last_success_timestamp_seconds", 'source="alpha-etc"')).toMatch(/ 1777860090$/);
  });

  it("a schedule is watched from its creation, and from its resume after a pause, as stale detection counts it", async () => {
    const a = await team("gamma");
    const labels = `schedule_id="${a.scheduleId}"`;
    const watched = async () =>
      Number(
        line((await teamMetrics(a.t)).body, "coffer_schedule_watched_since_timestamp_seconds", labels)!.split(" ")[1],
      );
    const created = await watched();
    expect(Math.abs(created * 1000 - Date.now())).toBeLessThan(60_000);
    await detectStaleSchedulesAllTeams(new Date(Date.now() + 10 * 86_400_000));
    expect(await watched()).toBe(created);

    // Paused for a week: resuming starts its clock again, so the alert rule does not fire at once.
    await setScheduleEnabled(a.t, a.scheduleId, false);
    await detectStaleSchedulesAllTeams();
    await setScheduleEnabled(a.t, a.scheduleId, true);
    const resumed = new Date(Date.now() + 7 * 86_400_000);
    await detectStaleSchedulesAllTeams(resumed);
    expect(await watched()).toBe(resumed.getTime() / 1000);
  });

  it("tells a channel Coffer disabled after failing from one someone turned off, which alerts nobody", async () => {
    const a = await team("delta");
    const mail = { kind: "email" as const, description: "", events: [], roles: ["owner" as const], addresses: [] };
    const { id: byCoffer } = await createChannel(a.t, { ...mail, description: "by coffer" });
    const { id: bySomeone } = await createChannel(a.t, { ...mail, description: "by someone" });
    const failing = { failingSince: new Date(Date.now() - 4 * 86_400_000), failedInRow: 7 };
    await setChannelRow(byCoffer, { ...failing, enabled: false, disabledReason: "Failed for 3 days." });
    await setChannelRow(bySomeone, failing);
    await setChannelEnabled(a.t, bySomeone, false);
    const { body } = await teamMetrics(a.t);
    expect(line(body, "coffer_notification_channels", 'state="disabled"')).toMatch(/ 1$/);
    expect(line(body, "coffer_notification_channels", 'state="off"')).toMatch(/ 1$/);
    expect(line(body, "coffer_notification_channels", 'state="failing"')).toBeUndefined();
  });

  it("a team with nothing to report exports no series, not a 0 an alert would read as a backup in 1970", async () => {
    const t = await (await signedUpUser("Empty")).team("admin");
    const { body } = await teamMetrics(t);
    const checked = promtoolCheck(body);
    expect(checked.status, checked.stderr + checked.stdout).toBe(0);
    expect(body).toContain("# TYPE coffer_schedule_last_success_timestamp_seconds gauge");
    expect(body).not.toMatch(/^coffer_schedule_\w+ /m);
    expect(body).not.toMatch(/^coffer_\w+ 0$/m);
  });

  it("the operators' scrape labels every series with its team, and answers only to METRICS_TOKEN", async () => {
    const a = await team("gamma");
    const { body } = await instanceMetricsAllTeams();
    expect(promtoolCheck(body).status).toBe(0);
    expect(
      line(body, "coffer_schedule_last_success_timestamp_seconds", `team="${a.t.slug}",schedule="gamma-nightly"`),
    ).toBeDefined();
    expect(() => checkInstanceToken(null)).toThrow(expect.objectContaining({ code: "UNAUTHENTICATED" }));
    expect(() => checkInstanceToken("Bearer wrong")).toThrow(expect.objectContaining({ code: "UNAUTHENTICATED" }));
    expect(() => checkInstanceToken(`Bearer ${process.env.METRICS_TOKEN}`)).not.toThrow();
  });
});

import { describe, expect, it } from "vitest";
import { createServer } from "@/lib/servers/mutations";
import { insertBackupRow, insertScheduleRows } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { functionRun, type OutgoingEvent } from "../sdk-adapter";
import { RETENTION_PAGE, retentionDaily } from "./retention-daily";

describe("retention-daily", () => {
  it("dispatches every schedule and every server with unscheduled backups once, a page per step", async () => {
    const t = await (await signedUpUser("Rho")).team("admin");
    const { id: serverId } = await createServer(t, { kind: "local", name: "db1", workDir: "/var/tmp" });
    // More schedules than one step lists.
    const inserted = await insertScheduleRows(
      Array.from({ length: RETENTION_PAGE + 5 }, (_, i) => ({
        teamId: t.id,
        serverId,
        name: `nightly-${i}`,
        cron: "30 0 * * *",
        timezone: "UTC",
        enabled: false,
      })),
    );
    await insertBackupRow({
      teamId: t.id,
      serverId,
      trigger: "manual",
      status: "succeeded",
      encrypted: false,
      fileName: "db1.tar.gz",
    });

    const sent: OutgoingEvent[] = [];
    const run = functionRun(
      retentionDaily,
      { id: "tick", name: "inngest/scheduled.timer", data: {}, ts: Date.now() },
      (events) => {
        sent.push(...events);
        return Promise.resolve(events.map((e) => e.id ?? "generated"));
      },
    );
    expect(await run.attempt()).toBeUndefined();
    const ours = sent.filter((e) => e.data?.teamId === t.id).map((e) => e.data!.scope);
    expect(ours.toSorted()).toEqual([...inserted, serverId].toSorted());
    // Each step's output is one page: two for the schedules, one for the server.
    const outputs = Object.values(run.steps()).filter(Array.isArray) as unknown[][];
    expect(Math.max(...outputs.map((o) => o.length))).toBeLessThanOrEqual(RETENTION_PAGE);
  });
});

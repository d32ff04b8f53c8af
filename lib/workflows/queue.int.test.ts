import { hostname } from "node:os";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { workflowInstances, workflowRuns } from "@/db/schema";
import { databaseKind, db } from "../db";
import { instanceId, INSTANCE_GONE_AFTER_MS, liveInstancesAllTeams } from "./instance";
import { CLAIM_PAGE_SIZE, claimRuns, handBackRuns, requeueInterruptedAllTeams } from "./queue";

// Which claims belong to a process that is gone, and what the queue does with their runs. The
// whole path through real processes is inngest/crash.int.test.ts.

const deadPid = 2 ** 22 - 7; // above any pid this machine hands out
const event = { id: "e", name: "test/thing", data: {}, ts: 0 };

async function heldBy(instance: string, attempts: number) {
  const d = await db();
  const [row] = await d
    .insert(workflowRuns)
    .values({
      functionId: "f",
      event,
      concurrencyKeys: [],
      status: "running",
      attempts,
      availableAt: new Date(),
      claimedBy: instance,
    })
    .returning();
  return row!.id;
}
const runRow = async (id: number) =>
  (await (await db()).select().from(workflowRuns).where(eq(workflowRuns.id, id)))[0]!;

describe("workflow instances and the queue", () => {
  it("tells live instances from gone ones: stopped, a dead pid of this host, a stale heartbeat, unknown, or another on PGlite", async () => {
    const d = await db();
    const now = new Date();
    await d.insert(workflowInstances).values([
      { id: "ins_alive_elsewhere", host: "other-host", pid: 1, startedAt: now, seenAt: now },
      { id: "ins_stopped", host: "other-host", pid: 1, startedAt: now, seenAt: now, stoppedAt: now },
      { id: "ins_dead_pid", host: hostname(), pid: deadPid, startedAt: now, seenAt: now },
      {
        id: "ins_silent",
        host: "other-host",
        pid: 1,
        startedAt: now,
        seenAt: new Date(now.getTime() - INSTANCE_GONE_AFTER_MS - 1000),
      },
    ]);
    const live = await liveInstancesAllTeams(now);
    expect(live.has(instanceId())).toBe(true);
    // PGlite is opened by one process at a time: on it, every other instance is gone.
    expect(live.has("ins_alive_elsewhere")).toBe((await databaseKind()) === "postgres");
    for (const gone of ["ins_stopped", "ins_dead_pid", "ins_silent", "ins_never_recorded"])
      expect(live.has(gone)).toBe(false);
  });

  it("queues again a gone instance's runs at once; one out of attempts goes to onFailure with the reason", async () => {
    const live = new Set([instanceId(), "ins_alive"]);
    const resumable = await heldBy("ins_gone", 1);
    const spent = await heldBy("ins_gone", 3);
    const alive = await heldBy("ins_alive", 1);
    expect(await requeueInterruptedAllTeams(live, () => 3, "The process ended.")).toBe(2);
    expect(await runRow(resumable)).toMatchObject({ status: "queued", claimedBy: null, attempts: 1, failure: null });
    expect(await runRow(spent)).toMatchObject({
      status: "queued",
      failure: { name: "Error", message: "The process ended.", permanent: false },
    });
    expect(await runRow(alive)).toMatchObject({ status: "running", claimedBy: "ins_alive" });
  });

  it("a claim takes the run for this instance; handing back at shutdown does not count the attempt", async () => {
    const d = await db();
    await d.delete(workflowRuns);
    const id = await heldBy("ins_gone_too", 0);
    await requeueInterruptedAllTeams(new Set([instanceId()]), () => 5, "gone");
    const [claimed] = await claimRuns(["f"], () => []);
    expect(claimed).toMatchObject({ id, status: "running", claimedBy: instanceId(), attempts: 1 });
    expect(await handBackRuns()).toEqual([id]);
    expect(await runRow(id)).toMatchObject({ status: "queued", claimedBy: null, attempts: 0 });
  });

  it("claims a newer run past more than a page of older ones held back by their concurrency limit", async () => {
    const d = await db();
    await d.delete(workflowRuns);
    const blocked = Array.from({ length: CLAIM_PAGE_SIZE + 20 }, () => ({
      functionId: "f",
      event,
      concurrencyKeys: ["server:busy"],
      status: "queued" as const,
      availableAt: new Date(0),
    }));
    await d.insert(workflowRuns).values({ ...blocked[0]!, status: "running", claimedBy: "ins_alive_busy" });
    await d.insert(workflowRuns).values(blocked);
    const [other] = await d
      .insert(workflowRuns)
      .values({ functionId: "f", event, concurrencyKeys: ["server:free"], status: "queued", availableAt: new Date(0) })
      .returning();
    const claimed = await claimRuns(["f"], () => [1]);
    expect(claimed.map((r) => r.id)).toEqual([other!.id]);
  });
});

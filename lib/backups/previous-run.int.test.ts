import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupEvent } from "@/inngest/events";
import { inProcessEngine, type InProcessEngine } from "@/inngest/in-process";
import { createDestination } from "@/lib/destinations/mutations";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { setBackupRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { requestBackup } from "./mutations";
import { getBackup } from "./queries";

let engine: InProcessEngine;
let scratch: string;
beforeAll(async () => {
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  scratch = mkdtempSync(path.join(tmpdir(), "coffer-eta-"));
});
afterAll(() => engine?.stop());

describe("the time left of a running backup", () => {
  it("comes from the previous successful backup of the same sources, and only of the same sources", async () => {
    const t = await (await signedUpUser("Eta")).team("admin");
    const { id: serverId } = await createServer(t, { kind: "local", name: "this host", workDir: "/var/tmp" });
    const source = async (name: string) => {
      const folder = mkdtempSync(path.join(scratch, `${name}-`));
      writeFileSync(path.join(folder, "blob.bin"), randomBytes(2 * 1024 * 1024));
      return (await createSource(t, { serverId, kind: "directory", name, paths: [folder], excludes: [] })).id;
    };
    const [a, b] = [await source("a"), await source("b")];
    const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix: "eta" });
    const backUp = (sourceIds: string[]) =>
      requestBackup(t, { serverId, sourceIds, destinationIds: [destinationId], encrypted: true });

    const { id: previousId } = await backUp([a]);
    engine.send([backupEvent({ teamId: t.id, serverId, backupId: previousId })]);
    await engine.idle();
    const previous = await getBackup(t, previousId);
    expect(previous).toMatchObject({ status: "succeeded", estimate: null });
    // The previous run took 20 s for its bytes.
    await setBackupRow(previousId, { finishedAt: new Date(previous.startedAt!.getTime() + 20_000) });

    // Another run of the same source, 30 s in with a quarter written (at its own, slower rate: 90 s left).
    const { id } = await backUp([a]);
    const running = { status: "running" as const, startedAt: new Date(Date.now() - 30_000), heartbeatAt: new Date() };
    await setBackupRow(id, { ...running, bytesDone: Math.round(previous.sizeBytes! / 4) });
    const now = await getBackup(t, id);
    expect(now.estimate).toMatchObject({ expectedBytes: previous.sizeBytes });
    expect(now.estimate!.fraction).toBeCloseTo(0.25, 3);
    expect(now.estimate!.msLeft).toBeGreaterThan(85_000);
    expect(now.estimate!.msLeft).toBeLessThan(95_000);

    // Sources a and b together were never backed up: nothing to go by.
    const { id: both } = await backUp([a, b]);
    await setBackupRow(both, { ...running, bytesDone: 1000 });
    expect((await getBackup(t, both)).estimate).toBeNull();
    await Promise.all([id, both].map((x) => setBackupRow(x, { status: "cancelled", finishedAt: new Date() })));
  });
});

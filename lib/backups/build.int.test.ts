import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { setBackupRow, insertBackupRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { createDestination } from "../destinations/mutations";
import { claim } from "../jobs/claim";
import { createServer } from "../servers/mutations";
import { systemTeam } from "../teams/context";
import { buildBackup, loadPlan, type ArchiveProducer } from "./build";
import { openArchive, succeededBackup } from "./open-archive";
import { getBackup } from "./queries";

function tarGz(): Buffer {
  const dir = mkdtempSync(path.join(tmpdir(), "coffer-build-"));
  writeFileSync(path.join(dir, "data.bin"), randomBytes(300_000));
  return execFileSync("tar", ["czf", "-", "-C", dir, "data.bin"]);
}

/** An archive whose bytes all go out at once, and which reports its end after `endsAfterMs`. */
function archive(bytes: Buffer, endsAfterMs: number): ArchiveProducer {
  return {
    async open() {
      const stream = new PassThrough();
      stream.end(bytes);
      return { stream, done: new Promise((resolve) => setTimeout(() => resolve(null), endsAfterMs)) };
    },
    async close() {},
  };
}

describe("buildBackup", () => {
  it("an attempt taken over after its object was written leaves the object the later attempt stored", async () => {
    const user = await signedUpUser("Builder");
    const t = await user.team("admin");
    const { id: serverId } = await createServer(t, { kind: "local", name: "host", workDir: "/var/tmp" });
    const { id: destinationId } = await createDestination(t, {
      kind: "local",
      name: "disk",
      prefix: `b-${randomBytes(3).toString("hex")}`,
    });
    const id = await insertBackupRow({
      teamId: t.id,
      serverId,
      trigger: "manual",
      status: "queued",
      encrypted: true,
      fileName: "host.tar.gz",
      destinationIds: [destinationId],
    });
    const job = { kind: "backup" as const, teamId: t.id, id };
    const system = await systemTeam(t.id, "test");
    const bytes = tarGz();

    // Attempt 1 has written its object and waits for the archive's end (a server slow to exit)…
    const first = (await claim(job))!;
    const stalled = buildBackup(await loadPlan(system, id, first.attempt), archive(bytes, 4_000)).then(
      () => "stored",
      (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 1_500));
    // …when another instance takes the run over (this one looked gone) and stores the backup.
    await setBackupRow(id, { claimedBy: "ins_elsewhere" });
    const second = (await claim(job))!;
    expect(second.attempt).toBe(2);
    await buildBackup(await loadPlan(system, id, second.attempt), archive(bytes, 0));

    expect(await stalled).toBe("A later attempt took over the run.");
    expect(await getBackup(t, id)).toMatchObject({ status: "succeeded", attempts: 2 });
    const { body } = await openArchive(t, await succeededBackup(t, id));
    const read: Buffer[] = [];
    for await (const chunk of body) read.push(chunk as Buffer);
    expect(Buffer.concat(read).equals(bytes)).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import { backupLeftoversPendingAt, insertBackupRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { getBackup } from "../backups/queries";
import { createServer } from "../servers/mutations";
import { instanceId } from "../workflows/instance";
import { handBackJobsAllTeams } from "./hand-back";

describe("handing jobs back at shutdown", () => {
  it("queues a server's backup to run again, and fails an upload and a safety backup, which cannot run again", async () => {
    const user = await signedUpUser("Hana");
    const t = await user.team("admin");
    const { id: serverId } = await createServer(t, { kind: "local", name: "host", workDir: "/var/tmp" });
    const running = (trigger: "manual" | "upload" | "safety") =>
      insertBackupRow({
        teamId: t.id,
        serverId,
        trigger,
        encrypted: true,
        fileName: `${trigger}.tar.gz`,
        status: "running",
        attempts: 1,
        claimedBy: instanceId(),
        heartbeatAt: new Date(),
      });
    const [manual, upload, safety] = [await running("manual"), await running("upload"), await running("safety")];

    expect(await handBackJobsAllTeams()).toBe(1);
    expect(await getBackup(t, manual)).toMatchObject({ status: "queued" });
    expect(await getBackup(t, upload)).toMatchObject({
      status: "failed",
      error: "Coffer shut down while the file was being uploaded; nothing of it was kept. Upload it again.",
    });
    expect(await getBackup(t, safety)).toMatchObject({
      status: "failed",
      error: expect.stringMatching(/^Coffer shut down while this safety backup ran; .* The restore takes a new one/),
    });
    // What they wrote is the sweeper's to remove, should this process end before their attempts do.
    expect(await backupLeftoversPendingAt(upload)).toBeInstanceOf(Date);
  });
});

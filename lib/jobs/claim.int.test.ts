import { describe, expect, it, vi } from "vitest";
import { insertBackupRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { createServer } from "../servers/mutations";
import { claim, INNGEST_STEP_LIMIT_MS } from "./claim";

vi.hoisted(() => {
  // Workflows on an Inngest server (never reached: these tests only claim).
  process.env.INNGEST_BASE_URL = "http://127.0.0.1:9";
});

const minutes = (n: number) => new Date(Date.now() - n * 60_000);

/** A backup whose attempt 1 began `began` and last beat `beat`, in another process. */
async function running(began: Date, beat: Date) {
  const user = await signedUpUser("Claire");
  const t = await user.team("admin");
  const { id: serverId } = await createServer(t, { kind: "local", name: "host", workDir: "/var/tmp" });
  const id = await insertBackupRow({
    teamId: t.id,
    serverId,
    trigger: "manual",
    encrypted: true,
    fileName: "host.tar.gz",
    status: "running",
    attempts: 1,
    claimedBy: "ins_elsewhere",
    startedAt: began,
    attemptStartedAt: began,
    heartbeatAt: beat,
  });
  return { kind: "backup" as const, teamId: t.id, id };
}

describe("claims with workflows on an Inngest server", () => {
  it("a step sent again because the server stopped waiting after 2 hours fails the job, saying why, instead of starting it over", async () => {
    const job = await running(minutes(INNGEST_STEP_LIMIT_MS / 60_000), minutes(0));
    await expect(claim(job)).rejects.toMatchObject({
      code: "TOO_LARGE",
      message: expect.stringMatching(
        /^This backup ran for 2 hours, the longest an Inngest server waits for one step; it would only start again/,
      ),
    });
  });

  it("a step sent again sooner (a dropped connection) takes the job over, as does one after its process died", async () => {
    expect(await claim(await running(minutes(30), minutes(0)))).toMatchObject({ attempt: 2, resumed: true });
    // Its process stopped beating after more than 2 hours: a crash, not the server's limit.
    expect(await claim(await running(minutes(150), minutes(5)))).toMatchObject({ attempt: 2, resumed: true });
  });
});

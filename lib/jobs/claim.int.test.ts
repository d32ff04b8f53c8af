import { describe, expect, it, vi } from "vitest";
import { insertBackupRow, setBackupRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { getBackup } from "../backups/queries";
import { sweepStaleRunsAllTeams } from "../backups/sweep";
import { createServer } from "../servers/mutations";
import { systemTeam } from "../teams/context";
import { instanceId } from "../workflows/instance";
import { claim, INNGEST_STEP_LIMIT_MS } from "./claim";
import { INNGEST_RETRY_WAIT_MS } from "./sweep";

vi.hoisted(() => {
  // Workflows on an Inngest server (never reached: these tests only claim).
  process.env.INNGEST_BASE_URL = "http://127.0.0.1:9";
});

const minutes = (n: number) => new Date(Date.now() - n * 60_000);

/** A backup whose attempt 1 began `began` and last beat `beat`, in process `by` (by default one that ended). */
async function running(began: Date, beat: Date, by = "ins_ended") {
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
    claimedBy: by,
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
    const sentAgain = await running(minutes(30), minutes(0), instanceId());
    expect(await claim(sentAgain)).toEqual({ attempt: 2, resumed: false });
    expect((await getBackup(await systemTeam(sentAgain.teamId, "test"), sentAgain.id)).log.at(-1)!.message).toBe(
      "Attempt 2 started: the step was sent again while attempt 1 still ran (the workflow engine lost the connection to it); attempt 1 stops.",
    );
    // Sent to another instance while the job still beats there: the same.
    expect(await claim(await running(minutes(30), minutes(0), "ins_other"))).toEqual({ attempt: 2, resumed: false });
    // Its process stopped beating: a restart or crash (after more than 2 hours too: not the server's limit).
    expect(await claim(await running(minutes(30), minutes(5)))).toEqual({ attempt: 2, resumed: true });
    expect(await claim(await running(minutes(150), minutes(5)))).toEqual({ attempt: 2, resumed: true });
  });
});

describe("the sweeper with an Inngest server", () => {
  it("leaves a job between attempts to the server's retry, and fails one whose process stopped beating", async () => {
    const between = await running(minutes(10), minutes(5));
    await setBackupRow(between.id, { claimedBy: null }); // its attempt failed and let the claim go
    const dead = await running(minutes(10), minutes(5));
    await sweepStaleRunsAllTeams();
    const t = await systemTeam(between.teamId, "test");
    expect((await getBackup(t, between.id)).status).toBe("running");
    expect((await getBackup(await systemTeam(dead.teamId, "test"), dead.id)).status).toBe("failed");
    // A day later the server has given up on it.
    await sweepStaleRunsAllTeams(new Date(Date.now() + INNGEST_RETRY_WAIT_MS));
    expect((await getBackup(t, between.id)).status).toBe("failed");
  });
});

import "server-only";
import { afterAll, describe, expect, it } from "vitest";
import { processesMatching, uniqueSleep, waitUntilGone } from "@/test/processes";
import { collect, reachContract } from "@/test/reach-contract";
import { localReach } from "./local";

const reach = localReach();
afterAll(() => reach.close());

reachContract("local", () => reach);

describe("local: environment and shutdown", () => {
  it("does not hand Coffer's own environment (secrets) to commands", async () => {
    process.env.COFFER_TEST_SECRET = "do-not-leak";
    try {
      const cmd = reach.exec(["env"]);
      const [out] = await Promise.all([collect(cmd.stdout), cmd.exit]);
      expect(out.toString()).not.toContain("do-not-leak");
      expect(out.toString()).toContain("PATH=");
    } finally {
      delete process.env.COFFER_TEST_SECRET;
    }
  });

  it("close() kills commands still running", async () => {
    const other = localReach();
    const marker = uniqueSleep();
    const cmd = other.exec(["sleep", marker]);
    cmd.stdout.resume();
    await new Promise((r) => setTimeout(r, 100));
    expect(processesMatching(`sleep ${marker}`).length).toBe(1);
    await other.close();
    await expect(cmd.exit).rejects.toThrow(/shutting down/);
    expect(await waitUntilGone(`sleep ${marker}`)).toEqual([]);
  });
});

import { describe, expect, it, vi } from "vitest";
import { signedUpUser } from "@/test/factories";
import { systemContext } from "../teams/context";
import { createChannel } from "../webhooks/channels";
import { listDeliveries } from "../webhooks/queries";
import { emit } from "./emit";

/** A retention run that changed nothing: only its problems make it worth an event. */
const noChange = { scope: { serverId: "srv_x" }, trashed: [], expired: [], moved: [] };

describe("emit", () => {
  it("never fails its caller: a subject that is gone produces nothing, a failing write is logged and swallowed", async () => {
    const t = await (await signedUpUser("Emma")).team("admin");
    const { id } = await createChannel(t, {
      kind: "webhook",
      url: "http://127.0.0.1:9/x",
      description: "",
      events: [],
    });
    await expect(emit(t, "backup.failed", { backupId: "bkp_00000000000000000000000000" })).resolves.toBeUndefined();
    expect(await listDeliveries(t, id)).toHaveLength(0);

    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      // A team that does not exist: the outbox insert violates its foreign key.
      const ghost = systemContext({ id: "team_00000000000000000000000000", slug: "ghost", name: "Ghost" }, "test");
      await expect(emit(ghost, "retention.applied", { ...noChange, problems: 1 })).resolves.toBeUndefined();
      expect(warn.mock.calls.map((c) => String(c[0])).join("\n")).toContain("notification event not produced");
    } finally {
      warn.mockRestore();
    }
  });

  it("produces an event once, however often its producer runs (a retried step)", async () => {
    const t = await (await signedUpUser("Emil")).team("admin");
    const { id } = await createChannel(t, {
      kind: "webhook",
      url: "http://127.0.0.1:9/x",
      description: "",
      events: [],
    });
    const subject = {
      scheduleId: "sch_00000000000000000000000000",
      staleSince: new Date(),
      lastSuccessAt: null,
      staleAfterSeconds: 1,
    };
    await emit(t, "backup.stale", subject); // the schedule does not exist: nothing
    expect(await listDeliveries(t, id)).toHaveLength(0);
    await emit(t, "retention.applied", { ...noChange, problems: 2 });
    await emit(t, "retention.applied", { ...noChange, problems: 0 }); // nothing changed: silent
    expect((await listDeliveries(t, id)).map((d) => d.type)).toEqual(["retention.applied"]);
  });
});

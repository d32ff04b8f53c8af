import { Inngest } from "inngest";
import { afterEach, describe, expect, it, vi } from "vitest";
import { dispatch, registerDispatcher } from "@/lib/workflows/dispatch";
import { dispatcherFor } from "./dispatcher";
import { backupRequested, restoreRequested, retentionRequested, verificationRequested } from "./events";
import { InProcessEngine } from "./in-process";

// lib asks for work through its dispatch port; what the engine registers there turns each request
// into the typed event, with its deterministic id, that starts the workflow.

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const client = new Inngest({ id: "dispatch-test", isDev: true, logger: quiet });
const received: { fn: string; id: string; data: unknown }[] = [];
const recorder = (
  trigger: typeof backupRequested | typeof restoreRequested | typeof verificationRequested | typeof retentionRequested,
) =>
  client.createFunction({ id: `on-${trigger.name.replace(/\W/g, "-")}`, triggers: [trigger] }, async ({ event }) => {
    received.push({ fn: trigger.name, id: event.id!, data: event.data });
  });
const functions = [backupRequested, restoreRequested, verificationRequested, retentionRequested].map(recorder);

let n = 0;
const newId = (prefix: string) => `${prefix}_${String(++n).padStart(26, "0")}`;
const teamId = newId("team");
const serverId = newId("srv");
const warnings = () => vi.mocked(console.warn).mock.calls.map((c) => String(c[0]));
afterEach(() => vi.restoreAllMocks());

describe("dispatch", () => {
  it("with no engine registered, logs that the request was lost and does not throw", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const backupId = newId("bkp");
    await expect(dispatch.backupRequested({ teamId, serverId, backupId })).resolves.toBeUndefined();
    expect(warnings()).toEqual([expect.stringContaining('"message":"backup dispatch failed; the sweeper retries it"')]);
    expect(warnings()[0]).toContain(backupId);
    expect(warnings()[0]).toContain("No workflow engine is registered");
  });

  it("starts the workflow an engine registered for it, once however often it is asked", async () => {
    const engine = new InProcessEngine(functions);
    registerDispatcher(dispatcherFor((events) => engine.send(events)));
    const backupId = newId("bkp");
    const restoreId = newId("rst");
    const verificationId = newId("rst");
    const scheduleId = newId("sch");
    await dispatch.backupRequested({ teamId, serverId, backupId });
    await dispatch.backupRequested({ teamId, serverId, backupId });
    await dispatch.restoreRequested({ teamId, serverId, restoreId, kind: "database" });
    await dispatch.restoreRequested({ teamId, serverId, restoreId: verificationId, kind: "verify" });
    await dispatch.retentionRequested({ teamId, scope: { scheduleId }, reason: "saved-1" });
    await dispatch.retentionRequested({ teamId, scope: { serverId }, reason: "saved-1" });
    await engine.idle();
    const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
    expect(received.sort(byId)).toEqual(
      [
        { fn: "backup/run.requested", id: `backup-${backupId}`, data: { teamId, serverId, backupId } },
        { fn: "restore/run.requested", id: `restore-${restoreId}`, data: { teamId, serverId, restoreId } },
        {
          fn: "restore/verification.requested",
          id: `restore-${verificationId}`,
          data: { teamId, serverId, restoreId: verificationId },
        },
        { fn: "retention/apply.requested", id: `retention-${scheduleId}-saved-1`, data: { teamId, scope: scheduleId } },
        { fn: "retention/apply.requested", id: `retention-${serverId}-saved-1`, data: { teamId, scope: serverId } },
      ].sort(byId),
    );
  });

  it("when the engine cannot take the request, logs it and does not throw", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const noServer = new Inngest({ id: "no-server", isDev: false, logger: quiet }); // no event key: sending fails
    registerDispatcher(dispatcherFor((events) => noServer.send(events)));
    const restoreId = newId("rst");
    await expect(
      dispatch.restoreRequested({ teamId, serverId, restoreId, kind: "directory" }),
    ).resolves.toBeUndefined();
    expect(warnings()).toEqual([
      expect.stringContaining('"message":"restore dispatch failed; the sweeper retries it"'),
    ]);
    expect(warnings()[0]).toContain(restoreId);
    expect(warnings()[0]).toContain("Failed to send event");
  });
});

import { describe, expect, it } from "vitest";
import { insertBackupRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { getBackup } from "../backups/queries";
import { createDestination } from "../destinations/mutations";
import { createServer } from "../servers/mutations";
import { createSource, deleteSource } from "../servers/source-mutations";
import { applyRetention, previewRetention } from "./apply";
import { updateTeamRetention } from "./policies";
import { DEFAULT_POLICY } from "./select";

/** A server with two databases' sources, under a team policy that thins unscheduled backups (the runbook's). */
async function server() {
  const owner = await signedUpUser("Gus");
  const t = await owner.team("owner");
  await updateTeamRetention(t, DEFAULT_POLICY);
  const { id: serverId } = await createServer(t, { kind: "local", name: "db1", workDir: "/var/tmp" });
  const source = async (name: string) =>
    (await createSource(t, { serverId, kind: "directory", name, paths: [`/var/tmp/${name}`], excludes: [] })).id;
  const [shop, crm] = [await source("shop"), await source("crm")];
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk" });
  /** A succeeded backup no schedule made, started and finished at these times (UTC) on 2025-03-04. */
  const backup = (trigger: "manual" | "upload" | "safety", sourceIds: string[], started: string, finished = started) =>
    insertBackupRow({
      teamId: t.id,
      serverId,
      trigger,
      status: "succeeded",
      encrypted: true,
      startedAt: new Date(`2025-03-04T${started}Z`),
      finishedAt: new Date(`2025-03-04T${finished}Z`),
      fileName: `db1-${trigger}-${started}.tar.gz`,
      manifest: { sources: sourceIds.map((id) => ({ id })) },
      sourceIds,
      destinationIds: [destinationId],
    });
  const kept = async () => {
    const { decisions } = await previewRetention(t, { serverId });
    return Object.fromEntries(decisions.map((d) => [d.fileName, d.keep]));
  };
  const status = async (id: string) => (await getBackup(t, id)).status;
  return { t, serverId, shop, crm, backup, kept, status };
}

describe("retention of backups no schedule made", () => {
  it("keeps a safety backup, whatever is backed up after it the same day", async () => {
    const s = await server();
    // A force restore replaced shop: its safety backup is the only copy of what was there.
    const safety = await s.backup("safety", [s.shop], "10:00");
    const crm = await s.backup("manual", [s.crm], "11:00"); // "Back up now" of another database
    const shop = await s.backup("manual", [s.shop], "12:00"); // and of the replaced one
    expect(await s.kept()).toEqual({ "db1-manual-12:00.tar.gz": true, "db1-manual-11:00.tar.gz": true });
    expect((await applyRetention(s.t.id, { serverId: s.serverId })).trashed).toBe(0);
    expect([await s.status(safety), await s.status(crm), await s.status(shop)]).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
  });

  it("weighs each set of sources on its own: two databases backed up the same day are both kept", async () => {
    const s = await server();
    const shop = await s.backup("manual", [s.shop], "09:00");
    const crmEarly = await s.backup("manual", [s.crm], "10:00");
    const crmLate = await s.backup("manual", [s.crm], "11:00");
    // The preview shows what the run then does.
    expect(await s.kept()).toEqual({
      "db1-manual-11:00.tar.gz": true,
      "db1-manual-10:00.tar.gz": false, // the same database later that day
      "db1-manual-09:00.tar.gz": true,
    });
    expect((await applyRetention(s.t.id, { serverId: s.serverId })).trashed).toBe(1);
    expect([await s.status(shop), await s.status(crmEarly), await s.status(crmLate)]).toEqual([
      "succeeded",
      "trashed",
      "succeeded",
    ]);
  });

  it("keeps a deleted source's backups in their group: deleting it trashes nothing", async () => {
    const s = await server();
    const both = await s.backup("manual", [s.shop, s.crm], "09:00");
    const crm = await s.backup("manual", [s.crm], "10:00");
    await deleteSource({ ...s.t, role: "member" }, s.shop);
    expect((await applyRetention(s.t.id, { serverId: s.serverId })).trashed).toBe(0);
    expect([await s.status(both), await s.status(crm)]).toEqual(["succeeded", "succeeded"]);
  });

  it("keeps the upload that finished last, though another one started after it", async () => {
    const s = await server();
    const big = await s.backup("upload", [], "10:00", "10:40");
    const small = await s.backup("upload", [], "10:05", "10:10");
    // One a day: the newest is the one stored last.
    expect(await s.kept()).toEqual({ "db1-upload-10:00.tar.gz": true, "db1-upload-10:05.tar.gz": false });
    expect((await applyRetention(s.t.id, { serverId: s.serverId })).trashed).toBe(1);
    expect([await s.status(big), await s.status(small)]).toEqual(["succeeded", "trashed"]);
  });
});

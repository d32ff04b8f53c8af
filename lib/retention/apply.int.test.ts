import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertBackupRow, insertLocationRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { startAzurite, type AzuriteServer } from "@/test/servers/azurite";
import { getBackup } from "../backups/queries";
import { createDestination } from "../destinations/mutations";
import { createServer } from "../servers/mutations";
import { applyRetention } from "./apply";
import { updateTeamRetention } from "./policies";

let azure: AzuriteServer;
const container = () => BlobServiceClient.fromConnectionString(azure.connectionString).getContainerClient("backups");

beforeAll(async () => {
  azure = await startAzurite();
  await container().create();
});
afterAll(async () => {
  await azure?.stop();
});

describe("retention after a retrieval", () => {
  it("leaves a copy retrieved within the week where the retrieval put it, and archives one retrieved before", async () => {
    const owner = await signedUpUser("Reh");
    const t = await owner.team("owner");
    // The last two backups are kept, in the daily class: Archive.
    await updateTeamRetention(t, { keepAll: false, last: 2, daily: 0, weekly: 0, monthly: 0, yearly: 0 });
    const { id: serverId } = await createServer(t, { kind: "local", name: "db1", workDir: "/var/tmp" });
    const { id: destinationId } = await createDestination(t, {
      kind: "azure",
      name: "azure",
      container: "backups",
      prefix: t.id,
      connectionString: azure.connectionString,
      classDaily: "Archive",
    });
    /** A backup whose blob was archived, then rehydrated to Cool (as retrieve() asks) `daysAgo` days ago. */
    const retrieved = async (name: string, daysAgo: number) => {
      const blob = container().getBlockBlobClient(`${t.id}/${name}`);
      await blob.upload("data", 4, { tier: "Archive" });
      await blob.setAccessTier("Cool", { rehydratePriority: "Standard" }); // Azurite rehydrates at once
      const backupId = await insertBackupRow({
        teamId: t.id,
        serverId,
        trigger: "manual",
        status: "succeeded",
        encrypted: true,
        startedAt: new Date(),
        finishedAt: new Date(),
        fileName: name,
        destinationIds: [destinationId],
      });
      const requestedAt = new Date(Date.now() - daysAgo * 86_400_000);
      await insertLocationRow({
        teamId: t.id,
        backupId,
        destinationId,
        objectKey: name,
        status: "stored",
        storageClass: "Cool",
        retrievalRequestedAt: requestedAt,
        retrievalReadyAt: new Date(requestedAt.getTime() + 15 * 3_600_000),
      });
      return { backupId, tier: async () => (await blob.getProperties()).accessTier };
    };
    const lately = await retrieved("lately.tar.gz", 1);
    const before = await retrieved("before.tar.gz", 8);

    expect(await applyRetention(t.id, { serverId })).toMatchObject({ transitioned: 1, problems: [] });
    expect([await lately.tier(), await before.tier()]).toEqual(["Cool", "Archive"]);
    const rowClass = async (id: string) => (await getBackup(t, id)).locations[0]!.storageClass;
    expect([await rowClass(lately.backupId), await rowClass(before.backupId)]).toEqual(["Cool", "Archive"]);
  });
});

import { describe, expect, it } from "vitest";
import { keyring } from "./crypto/master-keys";
import { assertMasterKeysPresent } from "./startup";
import { signedUpUser } from "@/test/factories";
import { insertBackupRow } from "@/test/arrange";
import { createServer } from "./servers/mutations";

describe("start-up master key check", () => {
  it("refuses to start when stored backup objects name a master key that is no longer configured, with the count", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("owner");
    await expect(assertMasterKeysPresent(keyring())).resolves.toBeUndefined();
    const { id: serverId } = await createServer(t, { kind: "local", name: "here", workDir: "/tmp" });
    // Two backups whose objects were written under a key since rotated away (their rows re-wrapped).
    for (let i = 0; i < 2; i++)
      await insertBackupRow({
        teamId: t.id,
        serverId,
        status: "succeeded",
        trigger: "manual",
        encrypted: true,
        fileName: `here-2019010${i}-000000.tar.gz`,
        dekKeyId: keyring().active.id,
        headerKeyId: "2019_01",
      });
    await expect(assertMasterKeysPresent(keyring())).rejects.toThrow(
      /2 stored backup objects? name master key 2019_01.*MASTER_KEYS/s,
    );
  });
});

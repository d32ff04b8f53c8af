import { describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { masterKeyChecks, servers } from "@/db/schema";
import { keyring, type Keyring } from "./crypto/master-keys";
import { sealSecret } from "./crypto/secret-box";
import { db } from "./db";
import { assertMasterKeysPresent } from "./startup";
import { signedUpUser } from "@/test/factories";
import { insertBackupRow } from "@/test/arrange";
import { createServer } from "./servers/mutations";

describe("start-up master key check", () => {
  it("refuses to start when a key id holds other bytes than it first did (a key generated again under the same name)", async () => {
    const keys = keyring();
    await expect(assertMasterKeysPresent(keys)).resolves.toBeUndefined(); // the first start records it
    const id = keys.active.id;
    const again = { id, key: randomBytes(32) };
    const regenerated: Keyring = { ...keys, active: again, byId: new Map([...keys.byId, [id, again]]) };
    await expect(assertMasterKeysPresent(regenerated)).rejects.toThrow(
      `MASTER_KEYS holds master key id ${id} with other bytes than the key that sealed what is stored under that id. Put back the original key; a new key needs a new id (then rotate: npm run keys:rotate).`,
    );
    // A new id is recorded as it is; the original bytes still start.
    const next = { id: "2099-01", key: randomBytes(32) };
    await expect(
      assertMasterKeysPresent({ ...keys, active: next, byId: new Map([...keys.byId, [next.id, next]]) }),
    ).resolves.toBeUndefined();
    await expect(assertMasterKeysPresent(keys)).resolves.toBeUndefined();
  });

  it("records a key id's bytes only once they open what is stored under it: wrong bytes on the first start after the check came in are refused", async () => {
    const t = await (await signedUpUser("Keeper")).team("owner");
    const keys = keyring();
    const { id: serverId } = await createServer(t, { kind: "local", name: "here", workDir: "/tmp" });
    const d = await db();
    const ctx = { teamId: t.id, table: "servers", column: "password_enc", rowId: serverId };
    await d
      .update(servers)
      .set({ passwordEnc: sealSecret("pw", ctx, keys) })
      .where(eq(servers.id, serverId));
    // As before migration 0013: nothing recorded yet.
    await d.delete(masterKeyChecks);
    const id = keys.active.id;
    const wrong = { id, key: randomBytes(32) };
    await expect(
      assertMasterKeysPresent({ ...keys, active: wrong, byId: new Map([...keys.byId, [id, wrong]]) }),
    ).rejects.toThrow(`MASTER_KEYS holds master key id ${id} with other bytes than the key that sealed what is stored`);
    expect(await d.select().from(masterKeyChecks)).toEqual([]);
    // The right bytes start, and are recorded.
    await expect(assertMasterKeysPresent(keys)).resolves.toBeUndefined();
    expect((await d.select().from(masterKeyChecks)).map((r) => r.keyId)).toEqual([id]);
  });

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

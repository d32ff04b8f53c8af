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
  /** A team's server with a password sealed under `keys`' active key: something stored under that id. */
  async function sealedUnder(keys: Keyring, name: string) {
    const t = await (await signedUpUser(name)).team("owner");
    const { id: serverId } = await createServer(t, { kind: "local", name: "here", workDir: "/tmp" });
    const ctx = { teamId: t.id, table: "servers", column: "password_enc", rowId: serverId };
    await (
      await db()
    )
      .update(servers)
      .set({ passwordEnc: sealSecret("pw", ctx, keys) })
      .where(eq(servers.id, serverId));
  }
  const withActive = (keys: Keyring, key: { id: string; key: Buffer }): Keyring => ({
    ...keys,
    active: key,
    byId: new Map([...keys.byId, [key.id, key]]),
  });

  it("refuses to start when a key id holds other bytes than it first did (a key generated again under the same name)", async () => {
    const keys = keyring();
    await sealedUnder(keys, "Sealer");
    await expect(assertMasterKeysPresent(keys)).resolves.toBeUndefined(); // the first start records it
    const id = keys.active.id;
    await expect(assertMasterKeysPresent(withActive(keys, { id, key: randomBytes(32) }))).rejects.toThrow(
      `MASTER_KEYS holds master key id ${id} with other bytes than the key that sealed what is stored under that id. Put back the original key; a new key needs a new id (then rotate: npm run keys:rotate).`,
    );
    // A new id is recorded as it is; the original bytes still start.
    await expect(
      assertMasterKeysPresent(withActive(keys, { id: "2099-01", key: randomBytes(32) })),
    ).resolves.toBeUndefined();
    await expect(assertMasterKeysPresent(keys)).resolves.toBeUndefined();
  });

  it("records a key id's bytes only once they open what is stored under it, and puts right a check recorded for wrong bytes", async () => {
    const keys = keyring();
    await sealedUnder(keys, "Keeper");
    const d = await db();
    const id = keys.active.id;
    const wrong = withActive(keys, { id, key: randomBytes(32) });
    // As before migration 0013: nothing recorded yet. Wrong bytes are refused, and not recorded.
    await d.delete(masterKeyChecks);
    await expect(assertMasterKeysPresent(wrong)).rejects.toThrow(
      `MASTER_KEYS holds master key id ${id} with other bytes than the key that sealed what is stored`,
    );
    expect(await d.select().from(masterKeyChecks)).toEqual([]);
    // A check an earlier version recorded for the wrong bytes: the right ones still start, and replace it.
    await d.insert(masterKeyChecks).values({ keyId: id, check: "recorded-for-wrong-bytes" });
    await expect(assertMasterKeysPresent(keys)).resolves.toBeUndefined();
    await expect(assertMasterKeysPresent(wrong)).rejects.toThrow(/other bytes/);
    expect((await d.select().from(masterKeyChecks)).find((r) => r.keyId === id)?.check).not.toBe(
      "recorded-for-wrong-bytes",
    );
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

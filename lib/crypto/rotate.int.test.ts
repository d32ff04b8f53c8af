import { randomBytes } from "node:crypto";
import { asc, sql } from "drizzle-orm";
import { pgTable, text } from "drizzle-orm/pg-core";
import { beforeAll, describe, expect, it } from "vitest";
import { idColumn, secretColumn } from "@/db/columns";
import { backups } from "@/db/schema";
import { signedUpUser } from "@/test/factories";
import { db } from "../db";
import { createServer } from "../servers/mutations";
import { newDataKey, unwrapDek, wrapDek } from "./data-key";
import { parseMasterKeys, type Keyring } from "./master-keys";
import {
  keysNamedByObjectsAllTeams,
  rewrapDataKeysAllTeams,
  rotateSecrets,
  secretColumns,
  unknownKeyIdsInUseAllTeams,
} from "./rotate";
import { openSecret, sealSecret } from "./secret-box";

// A table shaped like every secret-holding table (id, team_id, *_enc), made for this test so it
// does not depend on which features exist yet.
const vault = pgTable("rotation_vault", {
  id: idColumn("vlt"),
  teamId: text("team_id").notNull(),
  tokenEnc: secretColumn("token_enc"),
});
const columns = secretColumns([vault]);

const ring = (...specs: string[]): Keyring => {
  const keys = specs.flatMap(parseMasterKeys);
  return { active: keys[0]!, byId: new Map(keys.map((k) => [k.id, k])), source: "MASTER_KEYS" };
};
// "_" is a LIKE wildcard: the new id matches the old one as a pattern, which must not matter.
const oldKey = `2026-11:${randomBytes(32).toString("base64")}`;
const newKey = `2026_11:${randomBytes(32).toString("base64")}`;
const count = 10_000;
const plain = (i: number) => `secret-${i}`;

async function readAll(keys: Keyring) {
  const d = await db();
  const rows = await d.select().from(vault).orderBy(asc(vault.id));
  return rows.map((r) => ({
    keyId: r.tokenEnc!.split(":")[1],
    value: openSecret(
      r.tokenEnc!,
      { teamId: r.teamId, table: "rotation_vault", column: "token_enc", rowId: r.id },
      keys,
    ),
  }));
}

describe("master key rotation", () => {
  beforeAll(async () => {
    const d = await db();
    await d.execute(sql`create table rotation_vault (id text primary key, team_id text not null, token_enc text)`);
    const old = ring(oldKey);
    for (let start = 0; start < count; start += 1000) {
      await d.insert(vault).values(
        Array.from({ length: 1000 }, (_, j) => {
          const id = `vlt_${String(start + j).padStart(8, "0")}`;
          const teamId = `team_${(start + j) % 7}`;
          return {
            id,
            teamId,
            tokenEnc: sealSecret(
              plain(start + j),
              { teamId, table: "rotation_vault", column: "token_enc", rowId: id },
              old,
            ),
          };
        }),
      );
    }
  });

  it("finds secret columns by their _enc suffix", () => {
    expect(columns.map((c) => `${c.tableName}.${c.columnName}`)).toEqual(["rotation_vault.token_enc"]);
  });

  it("re-seals 10 000 values under the newest key, resuming after a run that died half-way", async () => {
    expect(await unknownKeyIdsInUseAllTeams(ring(newKey), columns)).toEqual(["2026-11"]);
    const both = ring(newKey, oldKey);

    // The first run dies after 10 of 20 batches.
    let batches = 0;
    await expect(
      rotateSecrets({
        keys: both,
        columns,
        batchSize: 500,
        onBatch: () => {
          if (++batches === 10) throw new Error("killed");
        },
      }),
    ).rejects.toThrow("killed");
    const midway = await readAll(both);
    expect(midway.filter((r) => r.keyId === "2026_11")).toHaveLength(5000);
    expect(midway.map((r) => r.value)).toEqual(Array.from({ length: count }, (_, i) => plain(i)));

    const report = await rotateSecrets({ keys: both, columns, batchSize: 500 });
    expect(report).toEqual({
      activeKeyId: "2026_11",
      columns: [{ column: "rotation_vault.token_enc", resealed: 5000 }],
      total: 5000,
    });

    // Everything opens with the new key alone; the old one can be retired.
    const after = await readAll(ring(newKey));
    expect(after.every((r) => r.keyId === "2026_11")).toBe(true);
    expect(after.map((r) => r.value)).toEqual(Array.from({ length: count }, (_, i) => plain(i)));
    expect(await unknownKeyIdsInUseAllTeams(ring(newKey), columns)).toEqual([]);
    expect((await rotateSecrets({ keys: both, columns })).total).toBe(0);
  });
});

describe("backup data keys", () => {
  it("re-wraps every backup's data key under the active key; objects keep naming the key they were written with", async () => {
    const t = await (await signedUpUser("Rot")).team("admin");
    const { id: serverId } = await createServer(t, { kind: "local", name: "host", workDir: "/var/tmp" });
    const d = await db();
    const deks = new Map<string, Buffer>();
    for (let i = 0; i < 3; i++) {
      const [row] = await d
        .insert(backups)
        .values({
          teamId: t.id,
          serverId,
          trigger: "manual",
          status: i === 2 ? "trashed" : "succeeded", // in the trash, its object is still stored
          encrypted: true,
          fileName: "x.tar.gz",
        })
        .returning({ id: backups.id });
      const dek = newDataKey();
      deks.set(row!.id, dek);
      const w = wrapDek(dek, ring(oldKey), t.id, row!.id);
      await d
        .update(backups)
        .set({ dekWrapped: w.wrapped.toString("base64"), dekKeyId: w.keyId, headerKeyId: w.keyId })
        .where(sql`id = ${row!.id}`);
    }
    expect(await unknownKeyIdsInUseAllTeams(ring(newKey), [])).toEqual(["2026-11"]);
    const both = ring(newKey, oldKey);
    expect(await rewrapDataKeysAllTeams({ keys: both, batchSize: 2 })).toBe(3);
    expect(await rewrapDataKeysAllTeams({ keys: both })).toBe(0);
    for (const r of await d
      .select()
      .from(backups)
      .where(sql`team_id = ${t.id}`)) {
      expect(r.dekKeyId).toBe("2026_11");
      expect(
        unwrapDek(
          { keyId: r.dekKeyId!, wrapped: Buffer.from(r.dekWrapped!, "base64") },
          ring(newKey),
          t.id,
          r.id,
        ).equals(deks.get(r.id)!),
      ).toBe(true);
    }
    expect(await unknownKeyIdsInUseAllTeams(ring(newKey), [])).toEqual([]);
    // The rotation script counts the backup in the trash; start-up, which only needs succeeded ones, does not.
    expect(await keysNamedByObjectsAllTeams({ trashed: true })).toEqual([{ keyId: "2026-11", objects: 3 }]);
    expect(await keysNamedByObjectsAllTeams()).toEqual([{ keyId: "2026-11", objects: 2 }]);
  });
});

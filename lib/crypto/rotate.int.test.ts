import { randomBytes } from "node:crypto";
import { asc, sql } from "drizzle-orm";
import { pgTable, text } from "drizzle-orm/pg-core";
import { beforeAll, describe, expect, it } from "vitest";
import { idColumn, secretColumn } from "@/db/columns";
import { db } from "../db";
import { parseMasterKeys, type Keyring } from "./master-keys";
import { rotateSecrets, secretColumns, unknownKeyIdsInUse } from "./rotate";
import { openSecret, sealSecret } from "./secret-box";

// A table shaped like every secret-holding table (id, team_id, *_enc), made for this test so it
// does not depend on which features exist yet.
const vault = pgTable("rotation_vault", { id: idColumn("vlt"), teamId: text("team_id").notNull(), tokenEnc: secretColumn("token_enc") });
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
  return rows.map((r) => ({ keyId: r.tokenEnc!.split(":")[1], value: openSecret(r.tokenEnc!, { teamId: r.teamId, table: "rotation_vault", column: "token_enc", rowId: r.id }, keys) }));
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
          return { id, teamId, tokenEnc: sealSecret(plain(start + j), { teamId, table: "rotation_vault", column: "token_enc", rowId: id }, old) };
        }),
      );
    }
  });

  it("finds secret columns by their _enc suffix", () => {
    expect(columns.map((c) => `${c.tableName}.${c.columnName}`)).toEqual(["rotation_vault.token_enc"]);
  });

  it("re-seals 10 000 values under the newest key, resuming after a run that died half-way", async () => {
    expect(await unknownKeyIdsInUse(ring(newKey), columns)).toEqual(["2026-11"]);
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
    expect(report).toEqual({ activeKeyId: "2026_11", columns: [{ column: "rotation_vault.token_enc", resealed: 5000 }], total: 5000 });

    // Everything opens with the new key alone; the old one can be retired.
    const after = await readAll(ring(newKey));
    expect(after.every((r) => r.keyId === "2026_11")).toBe(true);
    expect(after.map((r) => r.value)).toEqual(Array.from({ length: count }, (_, i) => plain(i)));
    expect(await unknownKeyIdsInUse(ring(newKey), columns)).toEqual([]);
    expect((await rotateSecrets({ keys: both, columns })).total).toBe(0);
  });
});

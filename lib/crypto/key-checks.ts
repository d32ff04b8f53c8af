import "server-only";
import { createHmac } from "node:crypto";
import { and, eq, inArray, isNotNull, sql } from "drizzle-orm";
import { backups, masterKeyChecks } from "@/db/schema";
import { db } from "../db";
import { unwrapDek } from "./data-key";
import type { Keyring } from "./master-keys";
import { secretColumns } from "./rotate";
import { openSecret } from "./secret-box";

const checkOf = (key: Buffer) => createHmac("sha256", key).update("coffer master key check 1").digest("base64url");

/**
 * The ids of configured master keys whose bytes are not those first configured under that id (a
 * key generated again under the same name): what they sealed before would no longer open, and what
 * they sealed now would not open with the first bytes. An id seen for the first time is recorded
 * once a value stored under it opens with its bytes (or nothing is stored under it yet): otherwise
 * wrong bytes would be recorded as the right ones, as on the first start after this check came in.
 */
export async function changedMasterKeys(keys: Keyring): Promise<string[]> {
  const d = await db();
  const configured = [...keys.byId.values()];
  const known = new Set(
    (
      await d
        .select({ keyId: masterKeyChecks.keyId })
        .from(masterKeyChecks)
        .where(
          inArray(
            masterKeyChecks.keyId,
            configured.map((k) => k.id),
          ),
        )
    ).map((r) => r.keyId),
  );
  const wrong: string[] = [];
  const confirmed = [];
  for (const k of configured.filter((k) => !known.has(k.id))) {
    if (await opensWhatItSealedAllTeams(k.id, keys)) confirmed.push(k);
    else wrong.push(k.id);
  }
  if (confirmed.length)
    await d
      .insert(masterKeyChecks)
      .values(confirmed.map((k) => ({ keyId: k.id, check: checkOf(k.key) })))
      .onConflictDoNothing();
  const recorded = await d
    .select()
    .from(masterKeyChecks)
    .where(
      inArray(
        masterKeyChecks.keyId,
        configured.map((k) => k.id),
      ),
    );
  return [...wrong, ...recorded.filter((r) => r.check !== checkOf(keys.byId.get(r.keyId)!.key)).map((r) => r.keyId)];
}

/** Whether one stored secret or backup data key sealed under `keyId` opens (true when there is none). */
async function opensWhatItSealedAllTeams(keyId: string, keys: Keyring): Promise<boolean> {
  const d = await db();
  for (const c of secretColumns()) {
    const [row] = (await d
      .select({ id: c.id, teamId: c.teamId, value: c.column })
      .from(c.table)
      .where(and(isNotNull(c.column), eq(sql`split_part(${c.column}, ':', 2)`, keyId)))
      .limit(1)) as { id: string; teamId: string; value: string }[];
    if (row)
      return attempt(() =>
        openSecret(row.value, { teamId: row.teamId, table: c.tableName, column: c.columnName, rowId: row.id }, keys),
      );
  }
  const [dek] = await d
    .select({ id: backups.id, teamId: backups.teamId, wrapped: backups.dekWrapped })
    .from(backups)
    .where(and(isNotNull(backups.dekWrapped), eq(backups.dekKeyId, keyId)))
    .limit(1);
  return dek
    ? attempt(() => unwrapDek({ keyId, wrapped: Buffer.from(dek.wrapped!, "base64") }, keys, dek.teamId, dek.id))
    : true;
}

function attempt(open: () => unknown): boolean {
  try {
    open();
    return true;
  } catch {
    return false;
  }
}

/** Whether Coffer has started on this database: its first start records its master keys' checks. */
export async function keysRecorded(): Promise<boolean> {
  const d = await db();
  return (await d.select({ keyId: masterKeyChecks.keyId }).from(masterKeyChecks).limit(1)).length > 0;
}

import "server-only";
import { createHmac } from "node:crypto";
import { and, eq, inArray, isNotNull, sql } from "drizzle-orm";
import { backups, masterKeyChecks } from "@/db/schema";
import { db } from "../db";
import { log } from "../log";
import { unwrapDek } from "./data-key";
import type { Keyring } from "./master-keys";
import { secretColumns } from "./rotate";
import { openSecret } from "./secret-box";

const checkOf = (key: Buffer) => createHmac("sha256", key).update("coffer master key check 1").digest("base64url");

/**
 * The ids of configured master keys whose bytes do not open what is stored under that id (a key
 * generated again under the same name): what they sealed before would no longer open, and what
 * they sealed now would not open with the first bytes. Each id's check value is recorded, so most
 * starts compare a hash; values are opened only for an id seen for the first time, or whose
 * recorded check differs. That check is then replaced if the bytes open what is stored: a start
 * with wrong bytes before values were opened (the first start after this check came in) recorded
 * them as the right ones.
 */
export async function changedMasterKeys(keys: Keyring): Promise<string[]> {
  const d = await db();
  const configured = [...keys.byId.values()];
  const recorded = new Map(
    (
      await d
        .select()
        .from(masterKeyChecks)
        .where(
          inArray(
            masterKeyChecks.keyId,
            configured.map((k) => k.id),
          ),
        )
    ).map((r) => [r.keyId, r.check]),
  );
  const changed: string[] = [];
  for (const k of configured) {
    const check = checkOf(k.key);
    if (recorded.get(k.id) === check) continue;
    if (!(await opensWhatItSealedAllTeams(k.id, keys))) {
      changed.push(k.id);
      continue;
    }
    if (recorded.has(k.id))
      log.warn("master key check replaced: the configured bytes open what is stored", { keyId: k.id });
    await d
      .insert(masterKeyChecks)
      .values({ keyId: k.id, check })
      .onConflictDoUpdate({ target: masterKeyChecks.keyId, set: { check } });
  }
  return changed;
}

/** Values tried per column: one damaged or misplaced value does not decide. */
const TRIED = 5;

/**
 * Whether what is stored under `keyId` opens with the configured bytes: one of the first few
 * values of any secret column or backup data key (true when nothing is stored under it).
 */
async function opensWhatItSealedAllTeams(keyId: string, keys: Keyring): Promise<boolean> {
  const d = await db();
  let found = false;
  for (const c of secretColumns()) {
    const rows = (await d
      .select({ id: c.id, teamId: c.teamId, value: c.column })
      .from(c.table)
      .where(and(isNotNull(c.column), eq(sql`split_part(${c.column}, ':', 2)`, keyId)))
      .limit(TRIED)) as { id: string; teamId: string; value: string }[];
    for (const row of rows) {
      found = true;
      const ctx = { teamId: row.teamId, table: c.tableName, column: c.columnName, rowId: row.id };
      if (attempt(() => openSecret(row.value, ctx, keys))) return true;
    }
  }
  const deks = await d
    .select({ id: backups.id, teamId: backups.teamId, wrapped: backups.dekWrapped })
    .from(backups)
    .where(and(isNotNull(backups.dekWrapped), eq(backups.dekKeyId, keyId)))
    .limit(TRIED);
  for (const dek of deks) {
    found = true;
    if (attempt(() => unwrapDek({ keyId, wrapped: Buffer.from(dek.wrapped!, "base64") }, keys, dek.teamId, dek.id)))
      return true;
  }
  return !found;
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

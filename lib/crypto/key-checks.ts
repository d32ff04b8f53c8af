import "server-only";
import { createHmac } from "node:crypto";
import { inArray } from "drizzle-orm";
import { masterKeyChecks } from "@/db/schema";
import { db } from "../db";
import type { Keyring } from "./master-keys";

const checkOf = (key: Buffer) => createHmac("sha256", key).update("coffer master key check 1").digest("base64url");

/**
 * The ids of configured master keys whose bytes are not those first configured under that id (a
 * key generated again under the same name): what they sealed before would no longer open, and what
 * they sealed now would not open with the first bytes. Ids seen for the first time are recorded.
 */
export async function changedMasterKeys(keys: Keyring): Promise<string[]> {
  const d = await db();
  const configured = [...keys.byId.values()];
  await d
    .insert(masterKeyChecks)
    .values(configured.map((k) => ({ keyId: k.id, check: checkOf(k.key) })))
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
  return recorded.filter((r) => r.check !== checkOf(keys.byId.get(r.keyId)!.key)).map((r) => r.keyId);
}

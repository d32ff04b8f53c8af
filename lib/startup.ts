import "server-only";
import { keyring, type Keyring } from "./crypto/master-keys";
import { changedMasterKeys } from "./crypto/key-checks";
import { keysNamedByObjectsAllTeams, unknownKeyIdsInUseAllTeams } from "./crypto/rotate";
import { databaseKind } from "./db";
import { authSecret } from "./auth/secret";
import { assertProductionDecided, env } from "./env";
import { log } from "./log";
import { sealPlainWebhookUrlsAllTeams } from "./webhooks/channels";
import { sendDeclaredContentLength } from "./web/content-length";

/**
 * Runs once when the server starts (instrumentation.ts): validates configuration, applies
 * migrations, lets downloads send their Content-Length (lib/web/content-length), and refuses to serve if a stored secret or backup object names a master key that is
 * not configured; then seals webhook URLs an earlier version kept in plain text.
 */
export async function start(): Promise<void> {
  const e = env();
  assertProductionDecided(e);
  sendDeclaredContentLength();
  const keys = keyring();
  authSecret();
  const kind = await databaseKind();
  await assertMasterKeysPresent(keys);
  const sealed = await sealPlainWebhookUrlsAllTeams();
  if (sealed) log.info("webhook URLs saved in plain text by an earlier version sealed", { channels: sealed });
  log.info("coffer started", {
    database: kind,
    dataDir: e.DATA_DIR,
    activeKeyId: keys.active.id,
    keySource: keys.source,
  });
}

/**
 * Every master key still needed is configured, with the bytes first configured under its id:
 * those sealing stored secrets and data keys, and
 * those named in the headers of stored backup objects (rotation re-wraps the row's copy of a data
 * key, but the object keeps naming the key it was written with, and the offline decrypt tool
 * needs that key).
 */
export async function assertMasterKeysPresent(keys: Keyring): Promise<void> {
  const changed = await changedMasterKeys(keys);
  if (changed.length > 0)
    throw new Error(
      `MASTER_KEYS holds master key ${changed.length === 1 ? "id" : "ids"} ${changed.join(", ")} with other bytes than ${changed.length === 1 ? "the key" : "the keys"} that sealed what is stored under that id. Put back the original key; a new key needs a new id (then rotate: npm run keys:rotate).`,
    );
  const missing = await unknownKeyIdsInUseAllTeams(keys);
  if (missing.length > 0) {
    throw new Error(
      `Stored secrets use master key ${missing.length === 1 ? "id" : "ids"} ${missing.join(", ")}, which MASTER_KEYS does not contain. Add ${missing.length === 1 ? "it" : "them"} back (decrypt-only keys go after the active one).`,
    );
  }
  const objects = (await keysNamedByObjectsAllTeams()).filter((k) => !keys.byId.has(k.keyId));
  if (objects.length > 0) {
    const named = objects.map(
      (k) => `${k.objects} stored backup object${k.objects === 1 ? "" : "s"} name master key ${k.keyId}`,
    );
    throw new Error(
      `${named.join("; ")}, which MASTER_KEYS does not contain. Add it back after the active key (keep it until those backups are gone), or those backups cannot be decrypted.`,
    );
  }
}

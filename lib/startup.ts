import "server-only";
import { keyring } from "./crypto/master-keys";
import { unknownKeyIdsInUse } from "./crypto/rotate";
import { databaseKind } from "./db";
import { authSecret } from "./auth/secret";
import { env } from "./env";
import { log } from "./log";

/**
 * Runs once when the server starts (instrumentation.ts): validates configuration, applies
 * migrations, and refuses to serve if a stored secret names a master key that is not configured.
 */
export async function start(): Promise<void> {
  const e = env();
  const keys = keyring();
  authSecret();
  const kind = await databaseKind();
  const missing = await unknownKeyIdsInUse(keys);
  if (missing.length > 0) {
    throw new Error(
      `Stored secrets use master key id(s) ${missing.join(", ")}, which MASTER_KEYS does not contain. Add them back (decrypt-only keys go after the active one).`,
    );
  }
  log.info("coffer started", {
    database: kind,
    dataDir: e.DATA_DIR,
    activeKeyId: keys.active.id,
    keySource: keys.source,
  });
}

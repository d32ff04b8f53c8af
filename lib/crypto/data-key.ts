import "server-only";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { AppError } from "../errors";
import {
  checkId,
  dekLength,
  maxIdBytes,
  tagLength,
  wrapNonceLength,
  wrappedLength,
  type WrappedDek,
} from "./envelope/header";
import { keyring, type Keyring } from "./master-keys";

// Data keys: one fresh 256-bit DEK per backup object, wrapped by the active master key and bound
// (associated data) to the team and backup it belongs to. The object's header and the backup's row hold it.

/** A fresh data encryption key: 32 random bytes, one per object. */
export function newDataKey(): Buffer {
  return randomBytes(dekLength);
}

function dekAad(teamId: string, backupId: string): Buffer {
  return Buffer.from(`coffer/dek/v1\0${teamId}\0${backupId}`, "utf8");
}

/** Wraps a DEK under the active master key, bound to the team and backup it belongs to. */
export function wrapDek(dek: Buffer, keys: Keyring, teamId: string, backupId: string): WrappedDek {
  if (dek.length !== dekLength) throw new AppError("VALIDATION", `A data key is ${dekLength} bytes.`);
  checkId("team id", teamId, maxIdBytes);
  checkId("backup id", backupId, maxIdBytes);
  const nonce = randomBytes(wrapNonceLength);
  const cipher = createCipheriv("aes-256-gcm", keys.active.key, nonce, { authTagLength: tagLength });
  cipher.setAAD(dekAad(teamId, backupId));
  const wrapped = Buffer.concat([nonce, cipher.update(dek), cipher.final(), cipher.getAuthTag()]);
  return { keyId: keys.active.id, wrapped };
}

/** Opens a wrapped DEK with the master key it names; refuses one that belongs to another backup. */
export function unwrapDek(w: WrappedDek, keys: Keyring, teamId: string, backupId: string): Buffer {
  const master = keys.byId.get(w.keyId);
  if (!master) {
    throw new AppError(
      "INTERNAL",
      `Backup "${backupId}" was encrypted under master key "${w.keyId}", which is not configured. Add that key to MASTER_KEYS.`,
    );
  }
  if (w.wrapped.length !== wrappedLength) {
    throw new AppError(
      "INTERNAL",
      `The wrapped data key of backup "${backupId}" is ${w.wrapped.length} bytes, not ${wrappedLength}: it is damaged.`,
    );
  }
  try {
    const decipher = createDecipheriv("aes-256-gcm", master.key, w.wrapped.subarray(0, wrapNonceLength), {
      authTagLength: tagLength,
    });
    decipher.setAAD(dekAad(teamId, backupId));
    decipher.setAuthTag(w.wrapped.subarray(wrappedLength - tagLength));
    return Buffer.concat([
      decipher.update(w.wrapped.subarray(wrapNonceLength, wrappedLength - tagLength)),
      decipher.final(),
    ]);
  } catch {
    throw new AppError(
      "INTERNAL",
      `The data key of backup "${backupId}" (team "${teamId}") did not unwrap with master key "${w.keyId}": the key is wrong, or the wrapped DEK does not belong to this backup.`,
    );
  }
}

/** The same DEK wrapped under the active master key (key rotation). */
export function rewrapDek(w: WrappedDek, keys: Keyring, teamId: string, backupId: string): WrappedDek {
  const dek = unwrapDek(w, keys, teamId, backupId);
  try {
    return wrapDek(dek, keys, teamId, backupId);
  } finally {
    dek.fill(0);
  }
}

/** A backup row's copy of its wrapped DEK (base64; key rotation re-wraps it). */
export interface StoredDataKey {
  dekWrapped: string | null;
  dekKeyId: string | null;
}

/** A fresh DEK for a backup, wrapped under the active master key, with the form its row stores. */
export function newBackupDataKey(teamId: string, backupId: string, keys: Keyring = keyring()) {
  const dek = newDataKey();
  const wrapped = wrapDek(dek, keys, teamId, backupId);
  return { dek, wrapped, stored: { dekWrapped: wrapped.wrapped.toString("base64"), dekKeyId: wrapped.keyId } };
}

/** Opens a backup's DEK from its row's copy. */
export function openStoredDataKey(
  teamId: string,
  row: { id: string } & StoredDataKey,
  keys: Keyring = keyring(),
): Buffer {
  if (!row.dekWrapped || !row.dekKeyId)
    throw new AppError("INTERNAL", "This encrypted backup has no data key on record.");
  return unwrapDek({ keyId: row.dekKeyId, wrapped: Buffer.from(row.dekWrapped, "base64") }, keys, teamId, row.id);
}

import "server-only";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { AppError } from "../errors";
import { keyring, type Keyring } from "./master-keys";

/** What a secret belongs to. Bound in as associated data, so a value copied elsewhere does not open. */
export interface SecretContext {
  teamId: string;
  table: string;
  column: string;
  rowId: string;
}

const version = "v1";

function aad(ctx: SecretContext): Buffer {
  return Buffer.from(["coffer/secret/v1", ctx.teamId, ctx.table, ctx.column, ctx.rowId].join("\0"), "utf8");
}

/** `v1:<key id>:<base64url(iv ‖ ciphertext ‖ tag)>`, AES-256-GCM under the active master key. */
export function sealSecret(plaintext: string, ctx: SecretContext, keys: Keyring = keyring()): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keys.active.key, iv);
  cipher.setAAD(aad(ctx));
  const body = Buffer.concat([iv, cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return `${version}:${keys.active.id}:${body.toString("base64url")}`;
}

export function openSecret(value: string, ctx: SecretContext, keys: Keyring = keyring()): string {
  const parts = value.split(":");
  if (parts.length !== 3 || parts[0] !== version) {
    throw new AppError("INTERNAL", `The stored ${ctx.column} is not in a format this version of Coffer can read.`);
  }
  const [, keyId, encoded] = parts as [string, string, string];
  const master = keys.byId.get(keyId);
  if (!master) {
    throw new AppError(
      "INTERNAL",
      `The stored ${ctx.column} was sealed with master key "${keyId}", which is not configured. Add that key to MASTER_KEYS.`,
    );
  }
  const body = Buffer.from(encoded, "base64url");
  if (body.length < 28) throw new AppError("INTERNAL", `The stored ${ctx.column} is truncated.`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", master.key, body.subarray(0, 12));
    decipher.setAAD(aad(ctx));
    decipher.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([decipher.update(body.subarray(12, body.length - 16)), decipher.final()]).toString("utf8");
  } catch {
    throw new AppError(
      "INTERNAL",
      `The stored ${ctx.column} did not decrypt with master key "${keyId}": the key is wrong, or the value was altered or copied from another record.`,
    );
  }
}

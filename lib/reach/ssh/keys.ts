import "server-only";
import { createHash } from "node:crypto";
// ssh2 is CommonJS: its default export works under every loader (Next's bundler, vitest, plain Node ESM).
import ssh2 from "ssh2";
import { AppError } from "@/lib/errors";
import { ReachError } from "../errors";

/** "SHA256:…" of a raw SSH public key blob, exactly as `ssh-keygen -l` prints it. */
export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** The key's algorithm name from its blob, e.g. "ssh-ed25519". */
export function keyType(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return "unknown";
  const len = keyBlob.readUInt32BE(0);
  return len > 0 && len < 64 && 4 + len <= keyBlob.length ? keyBlob.toString("latin1", 4, 4 + len) : "unknown";
}

/** "SHA256:…" as stored (the trailing "=" optional); throws VALIDATION for anything else. */
export function normalizeFingerprint(fp: string): string {
  const trimmed = fp.trim();
  const m = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(trimmed);
  if (!m) {
    throw new AppError(
      "VALIDATION",
      'The pinned host key must be a SHA256 fingerprint like "SHA256:AbC…" (as `ssh-keygen -l` prints it).',
    );
  }
  return `SHA256:${m[1]}`;
}

/** Throws a ReachError saying what is wrong unless `privateKey` is a private key that `passphrase` opens. */
export function parsePrivateKey(privateKey: string, passphrase: string | undefined) {
  const parsed = ssh2.utils.parseKey(privateKey, passphrase);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key instanceof Error || !key) {
    const why = key instanceof Error ? key.message : "";
    if (/no passphrase given/i.test(why)) {
      throw new ReachError(
        "VALIDATION",
        "invalid-key",
        "The private key is protected by a passphrase: enter the passphrase too.",
      );
    }
    if (/passphrase|decrypt|bad/i.test(why) && passphrase) {
      throw new ReachError(
        "VALIDATION",
        "invalid-key",
        "The private key could not be decrypted: the passphrase is wrong.",
      );
    }
    throw new ReachError(
      "VALIDATION",
      "invalid-key",
      "The private key could not be read. Paste the whole private key (OpenSSH or PEM format: Ed25519, ECDSA or RSA), including its BEGIN and END lines.",
    );
  }
  if (!key.isPrivateKey()) {
    throw new ReachError(
      "VALIDATION",
      "invalid-key",
      "That is a public key. Paste the private key (the file without .pub).",
    );
  }
}

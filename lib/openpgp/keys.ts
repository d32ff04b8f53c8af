import "server-only";
import * as openpgp from "openpgp";
import { AppError } from "../errors";

// Reading a team's OpenPGP public key, and refusing the ones a backup could not safely be
// encrypted to: expired, revoked, unable to encrypt, or RSA under 2048 bits.

interface TeamKeyFacts {
  fingerprint: string;
  userIds: string[];
  /** For people: "RSA 4096", "EdDSA (Ed25519), encrypts with ECDH (Curve25519)". */
  algorithm: string;
  expiresAt: Date | null;
  armored: string;
}

const minRsaBits = 2048;
const refuse = (message: string) => new AppError("VALIDATION", message, { key: [message] });

/** The key in `input`: armored text, or the base64 of a binary key (an uploaded `.gpg` file). */
async function readOne(input: string): Promise<openpgp.Key> {
  const text = input.trim();
  if (!text) throw refuse("Paste an OpenPGP public key, or choose its file.");
  let keys: openpgp.Key[];
  try {
    keys = text.includes("-----BEGIN PGP")
      ? await openpgp.readKeys({ armoredKeys: text })
      : await openpgp.readKeys({ binaryKeys: Buffer.from(text, "base64") });
  } catch {
    throw refuse(
      "That is not an OpenPGP public key. Export one with `gpg --export --armor <fingerprint>` and paste all of it, BEGIN and END lines included.",
    );
  }
  if (keys.length !== 1) throw refuse(`That holds ${keys.length} keys; add them one at a time.`);
  const key = keys[0]!;
  if (key.isPrivate())
    throw refuse(
      "That is a private key: Coffer needs only the public part (`gpg --export --armor <fingerprint>`). Keep the private key offline.",
    );
  return key;
}

function algorithmName(info: openpgp.AlgorithmInfo): string {
  const curve = "curve" in info && info.curve ? ` (${String(info.curve).replace(/Legacy$/, "")})` : "";
  switch (info.algorithm) {
    case "rsaEncryptSign":
    case "rsaEncrypt":
    case "rsaSign":
      return `RSA ${info.bits}`;
    case "eddsaLegacy":
    case "ed25519":
    case "ed448":
      return `EdDSA${curve || ` (${info.algorithm})`}`;
    case "ecdh":
    case "x25519":
    case "x448":
      return `ECDH${curve || ` (${info.algorithm})`}`;
    default:
      return `${info.algorithm}${curve}`;
  }
}

const isRsa = (info: openpgp.AlgorithmInfo) => info.algorithm.startsWith("rsa");

/** Reads and checks a public key; a refused one gets a message saying why and what to do. */
export async function readTeamKey(input: string, now = new Date()): Promise<TeamKeyFacts> {
  const key = await readOne(input);
  const fingerprint = key.getFingerprint().toUpperCase();
  const primary = key.getAlgorithmInfo();
  if (isRsa(primary) && (primary.bits ?? 0) < minRsaBits)
    throw refuse(
      `Key ${fingerprint} is RSA ${primary.bits}: too weak. Use RSA ${minRsaBits} or more, or an ed25519/cv25519 key (gpg --quick-gen-key "<name>" default default).`,
    );
  if (await key.isRevoked(undefined, undefined, now))
    throw refuse(`Key ${fingerprint} has been revoked by its owner. Ask them for their current key.`);
  const expiry = await key.getExpirationTime().catch(() => null);
  if (expiry instanceof Date && expiry <= now)
    throw refuse(
      `Key ${fingerprint} expired on ${expiry.toISOString().slice(0, 10)}. Extend it (gpg --quick-set-expire <fingerprint> 2y) and export it again, or use another key.`,
    );
  for (const sub of key.getSubkeys()) {
    const info = sub.getAlgorithmInfo();
    if (isRsa(info) && (info.bits ?? 0) < minRsaBits)
      throw refuse(`Key ${fingerprint} has an RSA ${info.bits} subkey: too weak. Use RSA ${minRsaBits} or more.`);
  }
  let encryption: Awaited<ReturnType<openpgp.Key["getEncryptionKey"]>>;
  try {
    encryption = await key.getEncryptionKey(undefined, now);
  } catch {
    throw refuse(
      `Key ${fingerprint} cannot encrypt (it is for signing only, or its encryption subkey expired or was revoked). Add an encryption subkey: gpg --quick-add-key <fingerprint> default encr.`,
    );
  }
  const subExpiry =
    encryption === key ? null : await (encryption as openpgp.Subkey).getExpirationTime(now).catch(() => null);
  const dates = [expiry, subExpiry].filter((d): d is Date => d instanceof Date);
  const userIds = key.getUserIDs();
  const [main, enc] = [algorithmName(primary), algorithmName(encryption.getAlgorithmInfo())];
  return {
    fingerprint,
    userIds,
    algorithm: main === enc ? main : `${main}, encrypts with ${enc}`,
    expiresAt: dates.length ? new Date(Math.min(...dates.map((d) => d.getTime()))) : null,
    armored: key.armor(),
  };
}

import "server-only";
import { hkdfSync } from "node:crypto";
import { PassThrough, Readable, type Transform } from "node:stream";
import * as openpgp from "openpgp";
import { AppError } from "../errors";
import type { MasterKey } from "../crypto/master-keys";
import { OpenPgpReadError, seipdDecryptStream } from "./seipd-read";
import { seipdEncryptStream } from "./seipd-write";

// OpenPGP backups (docs/OPENPGP.md): one standard message, SEIPD v1 (MDC) with AES-256, which
// GnuPG 2.2 and later decrypt. Its session key is the backup's data key (wrapped on its row);
// it is encrypted to every team key and, in a symmetric-key packet, to a passphrase derived from
// the master key, so the object and the master key alone also open it (`coffer decrypt`).

// The passphrase is 256 random bits (HKDF of a master key): S2K stretching adds a fixed cost to
// every backup and nothing to its strength, so the smallest iteration count (1024 bytes) is used.
const config = {
  aeadProtect: false,
  preferredSymmetricAlgorithm: openpgp.enums.symmetric.aes256,
  s2kIterationCountByte: 0,
};
const algorithm = "aes256" as const;

/** The passphrase of Coffer's own symmetric-key packet: HKDF-SHA-256 of a master key, base64url. */
export function cofferPassphrase(master: MasterKey): string {
  return Buffer.from(hkdfSync("sha256", master.key, Buffer.alloc(0), "coffer/openpgp/v1", 32)).toString("base64url");
}

/** Plaintext in → the OpenPGP message out, in constant memory. */
export async function createOpenPgpEncryptStream(opts: {
  sessionKey: Buffer;
  recipients: string[];
  master: MasterKey;
}): Promise<Transform> {
  // OpenPGP.js writes the key packets; the data packet is ours (./seipd-write.ts), in one pass.
  const encryptionKeys = await Promise.all(opts.recipients.map((armoredKey) => openpgp.readKey({ armoredKey })));
  const keyPackets = await openpgp.encryptSessionKey({
    data: new Uint8Array(opts.sessionKey),
    algorithm,
    encryptionKeys,
    passwords: [cofferPassphrase(opts.master)],
    format: "binary",
    config,
  });
  return seipdEncryptStream(opts.sessionKey, keyPackets);
}

const tampered = () =>
  new AppError(
    "INTERNAL",
    "The backup object is damaged or was altered: its OpenPGP integrity check (MDC) failed. Use another copy.",
  );

/**
 * The whole OpenPGP message in → its plaintext out, opened with the session key or a passphrase.
 * OpenPGP checks integrity only at the end: the stream fails there on anything altered, so its
 * bytes must not be released to anyone before it ended (lib/openpgp/verified.ts).
 */
export async function openPgpDecryptStream(
  source: Readable,
  how: { sessionKey: Buffer } | { passwords: string[] },
): Promise<Readable> {
  const sessionKeys = async (keyPackets: Buffer): Promise<Buffer[]> => {
    if ("sessionKey" in how) return [how.sessionKey];
    const message = await openpgp.readMessage({ binaryMessage: keyPackets });
    const found = await openpgp.decryptSessionKeys({ message, passwords: how.passwords, config }).catch(() => []);
    return found.filter((k) => k.algorithm === algorithm).map((k) => Buffer.from(k.data));
  };
  const plain = seipdDecryptStream(sessionKeys);
  const out = new PassThrough();
  source.on("error", (err) => plain.destroy(err));
  plain.on("error", (err) => {
    source.destroy();
    out.destroy(
      !(err instanceof OpenPgpReadError)
        ? err
        : err.reason === "no-key" && "passwords" in how
          ? new AppError("VALIDATION", "None of the master keys given opens this OpenPGP backup.")
          : tampered(),
    );
  });
  out.on("close", () => plain.destroy());
  source.pipe(plain).pipe(out);
  return out;
}

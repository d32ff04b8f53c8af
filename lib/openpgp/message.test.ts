import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import * as openpgp from "openpgp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gnupgHome, type GnupgHome } from "@/test/gnupg";
import { cofferPassphrase, createOpenPgpEncryptStream, openPgpDecryptStream } from "./message";
import { CHUNK } from "./seipd-write";

// The message Coffer writes, read by OpenPGP.js and GnuPG, at sizes around the partial-length
// chunks; and Coffer's own reading of it, which refuses any altered byte.

const master = { id: "k1", key: randomBytes(32) };
let gpg: GnupgHome;
let dir: string;
let teamKey: { publicKey: string; privateKey: string };
beforeAll(async () => {
  gpg = gnupgHome();
  dir = mkdtempSync(path.join(tmpdir(), "coffer-pgp-unit-"));
  teamKey = await openpgp.generateKey({ userIDs: [{ email: "ops@example.test" }], format: "armored" });
});
afterAll(() => {
  gpg?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function collect(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Encrypts `plain`, fed in chunks of `feed` bytes, as a backup does. */
async function encrypt(plain: Buffer, feed = 100_000): Promise<{ message: Buffer; sessionKey: Buffer }> {
  const sessionKey = randomBytes(32);
  const enc = await createOpenPgpEncryptStream({ sessionKey, recipients: [teamKey.publicKey], master });
  const pieces = Array.from({ length: Math.ceil(plain.length / feed) }, (_, i) =>
    plain.subarray(i * feed, (i + 1) * feed),
  );
  const message = await collect(Readable.from(pieces).pipe(enc));
  return { message, sessionKey };
}

describe("OpenPGP messages", () => {
  const sizes = [0, 1, CHUNK - 7, CHUNK - 6, CHUNK + 1, 3 * CHUNK + 12_345];

  it.each(sizes)("OpenPGP.js and gpg decrypt %i bytes with the team key and the passphrase", async (size) => {
    const plain = randomBytes(size);
    const { message } = await encrypt(plain);
    const decrypted = await openpgp.decrypt({
      message: await openpgp.readMessage({ binaryMessage: message }),
      decryptionKeys: await openpgp.readPrivateKey({ armoredKey: teamKey.privateKey }),
      format: "binary",
    });
    expect(Buffer.from(decrypted.data as Uint8Array).equals(plain)).toBe(true);

    const file = path.join(dir, `m-${size}.gpg`);
    writeFileSync(file, message);
    const r = gpg.decrypt(file, cofferPassphrase(master));
    expect(r.stderr).not.toMatch(/WARNING/);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.equals(plain)).toBe(true);
  });

  it.each(sizes)("Coffer reads back %i bytes, by session key and by passphrase", async (size) => {
    const plain = randomBytes(size);
    const { message, sessionKey } = await encrypt(plain, 7_000);
    expect((await collect(await openPgpDecryptStream(Readable.from([message]), { sessionKey }))).equals(plain)).toBe(
      true,
    );
    const byPassphrase = await openPgpDecryptStream(Readable.from([message]), {
      passwords: [cofferPassphrase({ id: "other", key: randomBytes(32) }), cofferPassphrase(master)],
    });
    expect((await collect(byPassphrase)).equals(plain)).toBe(true);
  });

  it("refuses a message with any one byte of its data packet flipped, cut short or with bytes after it", async () => {
    const plain = randomBytes(2 * CHUNK + 999);
    const { message, sessionKey } = await encrypt(plain);
    const open = (m: Buffer) => openPgpDecryptStream(Readable.from([m]), { sessionKey }).then(collect);
    const seipd = seipdStart(message);
    const positions = [...Array(80).keys()].map((i) => seipd + i); // tag, lengths, version, prefix, literal header
    positions.push(seipd + CHUNK, seipd + CHUNK + 3, message.length - 23, message.length - 1); // data, MDC tag, hash
    for (const at of positions) {
      const bad = Buffer.from(message);
      bad[at]! ^= 0x01;
      await expect(open(bad), `byte ${at}`).rejects.toThrow(/integrity check/);
    }
    for (const end of [seipd + 10, seipd + CHUNK, message.length - 1])
      await expect(open(message.subarray(0, end)), `cut at ${end}`).rejects.toThrow(/integrity check/);
    await expect(open(Buffer.concat([message, Buffer.from([0xcb, 0x01, 0x62])]))).rejects.toThrow(/integrity check/);
  });

  it("a small message, flipped anywhere after its key packets, is refused", async () => {
    const { message, sessionKey } = await encrypt(randomBytes(300));
    for (let at = seipdStart(message); at < message.length; at++) {
      const bad = Buffer.from(message);
      bad[at]! ^= 0x80;
      await expect(
        openPgpDecryptStream(Readable.from([bad]), { sessionKey }).then(collect),
        `byte ${at}`,
      ).rejects.toThrow(/integrity check/);
    }
  });

  it("says so when no master key given opens the message", async () => {
    const { message } = await encrypt(randomBytes(1000));
    const open = openPgpDecryptStream(Readable.from([message]), {
      passwords: [cofferPassphrase({ id: "other", key: randomBytes(32) })],
    }).then(collect);
    await expect(open).rejects.toThrow("None of the master keys given opens this OpenPGP backup.");
  });

  it.each([10, 3 * CHUNK + 5])("reads %i bytes as OpenPGP.js wrote them (backups made before)", async (size) => {
    const plain = randomBytes(size);
    const sessionKey = randomBytes(32);
    const input = Readable.toWeb(Readable.from([plain.subarray(0, 5), plain.subarray(5)]));
    const written = await openpgp.encrypt({
      message: await openpgp.createMessage({ binary: input as unknown as ReadableStream<Uint8Array> }),
      encryptionKeys: await openpgp.readKey({ armoredKey: teamKey.publicKey }),
      passwords: [cofferPassphrase(master)],
      sessionKey: { data: new Uint8Array(sessionKey), algorithm: "aes256" },
      format: "binary",
      config: { aeadProtect: false, s2kIterationCountByte: 0 },
    });
    const message = await collect(Readable.fromWeb(written as never));
    expect((await collect(await openPgpDecryptStream(Readable.from([message]), { sessionKey }))).equals(plain)).toBe(
      true,
    );
    const byPassphrase = await openPgpDecryptStream(Readable.from([message]), {
      passwords: [cofferPassphrase(master)],
    });
    expect((await collect(byPassphrase)).equals(plain)).toBe(true);
  });
});

/** Where the SEIPD packet starts: after the key packets (new format, definite lengths). */
function seipdStart(m: Buffer): number {
  let at = 0;
  while (m[at] !== 0xd2) {
    const o = m[at + 1]!;
    at += o < 192 ? 2 + o : 3 + ((o - 192) << 8) + m[at + 2]! + 192;
  }
  return at;
}

import "server-only";
import { randomBytes } from "node:crypto";
import { open, statfs, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AppError } from "../errors";
import { formatBytes } from "../format";
import { openPgpDecryptStream } from "./message";

/**
 * The plaintext of an OpenPGP backup (or one range of it), released only once the whole message
 * decrypted and its integrity check passed: it is decrypted into an unlinked file in the Coffer
 * host's temporary folder first, then read from there. A range therefore costs a pass over the
 * whole object. Memory stays flat; the temporary folder needs room for the `.tar.gz`.
 */
export async function verifiedOpenPgpPlaintext(
  source: Readable,
  sessionKey: Buffer,
  opts: { size: number; range: { start: number; end: number }; signal?: AbortSignal },
): Promise<Readable> {
  const dir = tmpdir();
  const { bavail, bsize } = await statfs(dir);
  if (bavail * bsize < opts.size + 64 * 1024 * 1024) {
    source.destroy();
    throw new AppError(
      "UPSTREAM",
      `Checking this OpenPGP backup needs ${formatBytes(opts.size)} free in the Coffer host's temporary folder (${dir}), which has ${formatBytes(bavail * bsize)}. Free some space, or point TMPDIR elsewhere.`,
    );
  }
  const file = path.join(dir, `coffer-openpgp-${randomBytes(8).toString("hex")}`);
  const writer = await open(file, "wx", 0o600);
  const reader = await open(file, "r").catch(async (err: unknown) => {
    await writer.close();
    throw err;
  });
  await unlink(file); // only this process holds it; the space is freed once both are closed
  try {
    const plain = await openPgpDecryptStream(source, { sessionKey });
    await pipeline(plain, writer.createWriteStream(), { signal: opts.signal }); // closes `writer`
    const { size } = await reader.stat();
    if (size !== opts.size)
      throw new AppError(
        "INTERNAL",
        `The OpenPGP backup decrypted to ${size} bytes, not the ${opts.size} it was stored with: it is damaged or was replaced. Use another copy.`,
      );
  } catch (err) {
    await Promise.allSettled([writer.close(), reader.close()]);
    throw err;
  }
  return reader.createReadStream({ start: opts.range.start, end: opts.range.end, autoClose: true });
}

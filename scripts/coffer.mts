// Offline tools for stored backup objects; they need the object and the master key, never the database.
// The commands that call a Coffer's API (backup, backups, download, …) are in coffer-api.mts.
//
//   npm run coffer -- decrypt [--master-keys <file> | -] <object> <out.tar.gz>
//   npm run coffer -- inspect <object>
//
// decrypt: disaster recovery. Reads the header, unwraps the data key with the master key named
// there, streams out the plaintext. Without --master-keys the MASTER_KEYS environment variable is
// used; "-" reads the keys from standard input. On any failure nothing is left at <out>.
// An OpenPGP backup (docs/OPENPGP.md) opens with the passphrase each master key derives; its
// integrity check passes at the end, only then is <out> renamed into place.
import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
} from "node:fs";
import { text } from "node:stream/consumers";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import {
  createDecryptStream,
  maxHeaderLength,
  plaintextSize,
  readHeader,
  type ParsedHeader,
} from "@/lib/crypto/envelope";
import { parseMasterKeys, type Keyring } from "@/lib/crypto/master-keys";
import { cofferPassphrase, openPgpDecryptStream } from "@/lib/openpgp/message";
import { env } from "@/lib/env";
import { apiCommands, apiUsage, Failed, UsageError } from "./coffer-api.mts";

const usage = `Usage:
  coffer decrypt [--master-keys <file> | -] <object> <out.tar.gz>   decrypt a stored backup object offline
  coffer inspect <object>                                           print an object's header (no key needed)

Without --master-keys, decrypt uses the MASTER_KEYS environment variable ("<key id>:<base64 key>,…").
${apiUsage}`;

async function loadKeys(source: string | undefined): Promise<Keyring> {
  let spec: string;
  if (source === "-") spec = await text(process.stdin);
  else if (source !== undefined) spec = readFileSync(source, "utf8");
  else spec = env().MASTER_KEYS ?? "";
  if (!spec.trim())
    throw new UsageError("No master keys: pass --master-keys <file> (or - for standard input), or set MASTER_KEYS.");
  const keys = parseMasterKeys(spec);
  return { active: keys[0]!, byId: new Map(keys.map((k) => [k.id, k])), source: "MASTER_KEYS" };
}

async function decrypt(args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    options: { "master-keys": { type: "string" } },
    allowPositionals: true,
  });
  if (positionals.length !== 2) throw new UsageError(usage);
  const [object, out] = positionals as [string, string];
  if (existsSync(out)) throw new UsageError(`${out} already exists; choose another output file or remove it first.`);
  const keys = await loadKeys(values["master-keys"]);
  // Written under a temporary name and renamed at the end, so a failure never leaves a file that looks complete.
  const partial = `${out}.partial`;
  if (!isCofferObject(object)) return decryptOpenPgp(object, out, partial, keys);
  const decryptor = createDecryptStream({ keys });
  let header: ParsedHeader | undefined;
  decryptor.once("header", (h: ParsedHeader) => {
    header = h;
    console.log(`Backup ${h.backupId} of team ${h.teamId}, data key wrapped with master key "${h.keyId}"; decrypting…`);
  });
  // Created before anything is read ("wx": never a file of that name this run did not make), so a
  // failure at any moment can remove it.
  const sink = createWriteStream(partial, { fd: openSync(partial, "wx", 0o600) });
  try {
    await pipeline(createReadStream(object), decryptor, sink);
    renameSync(partial, out);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
  console.log(
    `Wrote ${sink.bytesWritten} bytes to ${out} (backup ${header!.backupId}, team ${header!.teamId}, master key "${header!.keyId}").`,
  );
}

function isCofferObject(object: string): boolean {
  const fd = openSync(object, "r");
  try {
    const head = Buffer.alloc(6);
    return readSync(fd, head, 0, 6, 0) === 6 && head.toString("latin1") === "COFFER";
  } finally {
    closeSync(fd);
  }
}

async function decryptOpenPgp(object: string, out: string, partial: string, keys: Keyring) {
  console.log("An OpenPGP backup; opening it with the master keys…");
  const sink = createWriteStream(partial, { fd: openSync(partial, "wx", 0o600) });
  try {
    const plain = await openPgpDecryptStream(createReadStream(object), {
      passwords: [...keys.byId.values()].map(cofferPassphrase),
    });
    await pipeline(plain, sink);
    renameSync(partial, out);
  } catch (err) {
    sink.destroy();
    rmSync(partial, { force: true });
    throw err;
  }
  console.log(`Wrote ${sink.bytesWritten} bytes to ${out} (integrity check passed).`);
}

function inspect(args: string[]) {
  const { positionals } = parseArgs({ args, options: {}, allowPositionals: true });
  if (positionals.length !== 1) throw new UsageError(usage);
  if (!isCofferObject(positionals[0]!))
    throw new UsageError(
      `${positionals[0]} has no Coffer header. An OpenPGP backup (.tar.gz.gpg) is listed by gpg --list-packets and opened by coffer decrypt.`,
    );
  const fd = openSync(positionals[0]!, "r");
  let h: ParsedHeader;
  let size: number;
  try {
    const buf = Buffer.alloc(maxHeaderLength);
    const n = readSync(fd, buf, 0, buf.length, 0);
    h = readHeader(buf.subarray(0, n));
    size = fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
  let plain: string;
  let segments: string;
  try {
    const p = plaintextSize(size, h.headerLength, h.segmentSize);
    plain = `${p} bytes`;
    segments = String(p === 0 ? 1 : Math.ceil(p / h.segmentSize));
  } catch (err) {
    plain = `impossible (${(err as Error).message})`;
    segments = "?";
  }
  const rows: [string, string][] = [
    ["format", `v${h.version}`],
    ["header length", `${h.headerLength} bytes`],
    ["segment size", `${h.segmentSize} bytes`],
    ["nonce prefix", h.noncePrefix.toString("hex")],
    ["master key id", h.keyId],
    ["team id", h.teamId],
    ["backup id", h.backupId],
    ["wrapped DEK", `${h.wrapped.wrapped.length} bytes`],
    ["header SHA-256", h.hash.toString("hex")],
    ["object size", `${size} bytes`],
    ["plaintext size", plain],
    ["segments", segments],
  ];
  for (const [k, v] of rows) console.log(`${`${k}:`.padEnd(16)}${v}`);
}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === "decrypt") await decrypt(rest);
  else if (command === "inspect") inspect(rest);
  else if (command && apiCommands[command]) await apiCommands[command](rest);
  else throw new UsageError(usage);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(err instanceof UsageError && !(err instanceof Failed) ? 2 : 1);
}

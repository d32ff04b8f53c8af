// Offline tools for stored backup objects; they need the object and the master key, never the database.
// The commands that call a Coffer's API (backup, backups, download, …) are in coffer-api.mts.
//
//   npm run coffer -- decrypt [--master-keys <file> | -] <object> <out.tar.gz>
//   npm run coffer -- inspect <object>
//
// decrypt: disaster recovery. Reads the header, unwraps the data key with the master key named
// there, streams out the plaintext. Without --master-keys the MASTER_KEYS environment variable is
// used; "-" reads the keys from standard input. On any failure, SIGINT (Ctrl-C) or SIGTERM,
// nothing is left at <out> or <out>.partial. A file that is neither a Coffer object nor an OpenPGP
// message (empty, an unencrypted .tar.gz, an error page) is refused before anything is written.
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
import { constants as osConstants } from "node:os";
import { Readable, type Writable } from "node:stream";
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
import { unwrapDek } from "@/lib/crypto/data-key";
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
  // Written under a temporary name and renamed at the end, so a failure never leaves a file that looks complete.
  const partial = `${out}.partial`;
  if (existsSync(partial)) throw leftPartial(partial);
  // Opened once and read from the start as a stream, so a pipe (`<(curl …)`) works as well as a file.
  const { fd, head, kind } = openObject(object);
  const file = createReadStream(object, { fd });
  const input = Readable.from(startingWith(head, file));
  try {
    const keys = await loadKeys(values["master-keys"]);
    if (kind === "openpgp") return await decryptOpenPgp(input, out, partial, keys);
    const h = checkHeader(head, keys);
    console.log(`Backup ${h.backupId} of team ${h.teamId}, data key wrapped with master key "${h.keyId}"; decrypting…`);
    const sink = createPartial(partial);
    await finishPartial(partial, out, pipeline(input, createDecryptStream({ keys }), sink), sink);
    console.log(
      `Wrote ${sink.bytesWritten} bytes to ${out} (backup ${h.backupId}, team ${h.teamId}, master key "${h.keyId}").`,
    );
  } finally {
    input.destroy();
    file.destroy();
  }
}

type ObjectKind = "coffer" | "openpgp";

/** Opens the object and reads its first bytes (a whole Coffer header at most) to tell what it is. */
function openObject(object: string): { fd: number; head: Buffer; kind: ObjectKind } {
  let fd: number;
  try {
    fd = openSync(object, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new Failed(`${object} does not exist.`);
    throw err;
  }
  try {
    const head = Buffer.alloc(maxHeaderLength);
    let n = 0;
    while (n < head.length) {
      const r = readSync(fd, head, n, head.length - n, null);
      if (r === 0) break;
      n += r;
    }
    return { fd, head: head.subarray(0, n), kind: objectKind(object, head.subarray(0, n)) };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * What the object is, from its first bytes; anything that is neither a Coffer object nor an
 * OpenPGP message is refused here, so it is not reported as a damaged backup.
 */
function objectKind(object: string, head: Buffer): ObjectKind {
  if (head.length === 0) throw new Failed(`${object} is empty (0 bytes): download the backup again.`);
  if (head.subarray(0, 6).toString("latin1") === "COFFER") return "coffer";
  if (head[0] === 0x1f && head[1] === 0x8b)
    throw new Failed(`${object} is an unencrypted .tar.gz: it needs no decrypting; extract it with tar xzf.`);
  // Every OpenPGP packet starts with a byte whose top bit is set (RFC 9580, 4.2).
  if (!(head[0]! & 0x80)) {
    // Its content is not echoed: the file given by mistake could be the keys file.
    const looks =
      head[0] === 0x3c
        ? " (it looks like XML or HTML)"
        : /^[\x09\x0a\x0d\x20-\x7e]+$/.test(head.toString("latin1"))
          ? " (it looks like text)"
          : "";
    throw new Failed(
      `${object} is neither a Coffer backup nor an OpenPGP one${looks}: was an error page downloaded instead? Download the backup again.`,
    );
  }
  return "openpgp";
}

async function* startingWith(head: Buffer, rest: AsyncIterable<Buffer>) {
  if (head.length) yield head;
  yield* rest;
}

/**
 * The header, checked before anything is written: the key it names is given and unwraps its data
 * key. One changed byte of the key id or the ids the data key is bound to looks like a missing or
 * wrong key, so the messages name damage as well.
 */
function checkHeader(head: Buffer, keys: Keyring): ParsedHeader {
  const h = readHeader(head);
  if (!keys.byId.has(h.keyId))
    throw new Failed(
      `Backup "${h.backupId}" names master key "${h.keyId}", which is not among the keys given (${[...keys.byId.keys()].join(", ")}). Add that key; if there is no such key, the header is damaged: use another copy.`,
    );
  try {
    unwrapDek(h.wrapped, keys, h.teamId, h.backupId).fill(0);
  } catch {
    throw new Failed(
      `The data key of backup "${h.backupId}" did not unwrap with master key "${h.keyId}": that key is wrong, or the header is damaged (use another copy).`,
    );
  }
  return h;
}

const leftPartial = (partial: string) =>
  new UsageError(
    `${partial} already exists: an interrupted coffer decrypt left it, and it is not a complete backup. Delete it and run again.`,
  );

/**
 * Created before anything is decrypted ("wx": never a file of that name this run did not make), so
 * a failure, Ctrl-C or a kill at any moment removes it: a part of a backup is plaintext.
 */
function createPartial(partial: string) {
  let fd: number;
  try {
    fd = openSync(partial, "wx", 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw leftPartial(partial);
    throw err;
  }
  const sink = createWriteStream(partial, { fd });
  const onSignal = (signal: NodeJS.Signals) => {
    rmSync(partial, { force: true });
    console.error(`Stopped (${signal}); removed ${partial}.`);
    process.exit(128 + osConstants.signals[signal]);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  sink.once("close", () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  });
  return sink;
}

/** Renames the partial file into place once `done` succeeds; removes it otherwise. */
async function finishPartial(partial: string, out: string, done: Promise<unknown>, sink: Writable) {
  try {
    await done;
    renameSync(partial, out);
  } catch (err) {
    sink.destroy();
    rmSync(partial, { force: true });
    throw err;
  }
}

async function decryptOpenPgp(input: Readable, out: string, partial: string, keys: Keyring) {
  console.log("An OpenPGP backup; opening it with the master keys…");
  const sink = createPartial(partial);
  const done = (async () => {
    const plain = await openPgpDecryptStream(input, { passwords: [...keys.byId.values()].map(cofferPassphrase) });
    await pipeline(plain, sink);
  })();
  await finishPartial(partial, out, done, sink);
  console.log(`Wrote ${sink.bytesWritten} bytes to ${out} (integrity check passed).`);
}

function inspect(args: string[]) {
  const { positionals } = parseArgs({ args, options: {}, allowPositionals: true });
  if (positionals.length !== 1) throw new UsageError(usage);
  const object = positionals[0]!;
  const { fd, head, kind } = openObject(object);
  let h: ParsedHeader;
  let size: number;
  try {
    if (kind === "openpgp")
      throw new UsageError(
        `${object} has no Coffer header. An OpenPGP backup (.tar.gz.gpg) is listed by gpg --list-packets and opened by coffer decrypt.`,
      );
    h = readHeader(head);
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

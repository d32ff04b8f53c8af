import "server-only";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";
import { MANIFEST_PATH, MAX_SEALED_MANIFEST_BYTES, parseManifest, type Manifest } from "../backups/manifest";
import { createDecryptStream, maxHeaderLength, plaintextSize, readHeader, type ParsedHeader } from "../crypto/envelope";
import type { Keyring } from "../crypto/master-keys";
import { plainCause } from "../error-text";
import { asAppError } from "../errors";
import type { ObjectInfo, StorageAdapter } from "../storage";

// What one stored object says about itself: its header (no key needed), then, for the team's own
// objects whose key is configured, the manifest at the start of the archive (only the segments it
// spans are fetched and decrypted). Nothing here writes anywhere.

/** Objects named like Coffer's encrypted backups (`<server id>/<server>-<stamp>-<backup id>.tar.gz.enc`). */
export const ENCRYPTED_SUFFIX = ".tar.gz.enc";

/** "unreadable": the destination would not hand the object over (archive storage, a failing read). */
export type Verdict = "importable" | "in-catalogue" | "other-team" | "missing-key" | "damaged" | "unreadable";

export interface Inspected {
  key: string;
  size: number;
  lastModified: Date | null;
  storageClass: string | null;
  verdict: Verdict;
  /** Why, in a sentence a user can act on. */
  reason: string;
  header?: ParsedHeader;
  manifest?: Manifest;
  /** Size of the plain `.tar.gz` inside, from the object's size and the header's segment size. */
  archiveBytes?: number;
}

/**
 * Reads the object's header and, when `ours(teamId)` and its key is in `keys`, its manifest.
 * Never throws for what the object holds (damage is a verdict); storage errors do throw.
 */
export async function inspectObject(
  adapter: StorageAdapter,
  info: ObjectInfo,
  ours: (teamId: string) => boolean,
  keys: Keyring,
  signal?: AbortSignal,
): Promise<Inspected> {
  const base = {
    key: info.key,
    size: info.size,
    lastModified: info.lastModified ?? null,
    storageClass: info.storageClass ?? null,
  };
  const damaged = (reason: string, header?: ParsedHeader): Inspected => ({
    ...base,
    verdict: "damaged",
    reason,
    header,
  });
  let header: ParsedHeader;
  try {
    header = readHeader(await readStart(adapter, info, signal));
  } catch (err) {
    const known = asAppError(err);
    if (known?.code === "INTERNAL") return damaged(known.message);
    throw err;
  }
  if (!ours(header.teamId))
    return {
      ...base,
      header,
      verdict: "other-team",
      reason: `Made by team ${header.teamId}, not this team: left alone.`,
    };
  if (!keys.byId.has(header.keyId))
    return {
      ...base,
      header,
      verdict: "missing-key",
      reason: `Sealed with master key "${header.keyId}", which is not configured: add it to MASTER_KEYS and scan again.`,
    };
  let archiveBytes: number;
  try {
    archiveBytes = plaintextSize(info.size, header.headerLength, header.segmentSize);
  } catch (err) {
    return damaged(asAppError(err)?.message ?? String(err), header);
  }
  let manifest: Manifest;
  try {
    manifest = parseManifest(await readManifest(adapter, info.key, header, keys, signal));
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    const known = asAppError(err);
    if (known && known.code !== "INTERNAL" && known.code !== "VALIDATION") throw err; // storage, not the object
    return damaged(
      known?.message ?? `The archive inside is not readable: ${plainCause(err, { step: "inspect", key: info.key })}.`,
      header,
    );
  }
  if (manifest.backupId !== header.backupId)
    return damaged(
      `The manifest names backup ${manifest.backupId}, the header ${header.backupId}: the object was altered.`,
      header,
    );
  return { ...base, header, manifest, archiveBytes, verdict: "importable", reason: "Can be taken back in." };
}

async function readStart(adapter: StorageAdapter, info: ObjectInfo, signal?: AbortSignal): Promise<Buffer> {
  const end = Math.min(maxHeaderLength, info.size) - 1;
  if (end < 0) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const c of await adapter.get(info.key, { range: { start: 0, end }, signal })) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The archive's first member, which must be manifest.json. The object streams through decryption
 * and gunzip only until that member has been read; then the read is cancelled.
 */
async function readManifest(
  adapter: StorageAdapter,
  key: string,
  header: ParsedHeader,
  keys: Keyring,
  signal?: AbortSignal,
): Promise<Buffer> {
  const stop = new AbortController();
  const onAbort = () => stop.abort(signal!.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const body: Readable = await adapter.get(key, { signal: stop.signal });
  const tar = extract();
  const feeding = pipeline(
    body,
    createDecryptStream({ keys, expect: { teamId: header.teamId, backupId: header.backupId } }),
    createGunzip(),
    tar,
  );
  let failure: unknown;
  feeding.catch((err: unknown) => (failure ??= err));
  try {
    for await (const entry of tar) {
      if (entry.header.name !== MANIFEST_PATH)
        throw new Error(`its first member is "${entry.header.name}", not ${MANIFEST_PATH}`);
      if ((entry.header.size ?? 0) > MAX_SEALED_MANIFEST_BYTES)
        throw new Error(`its manifest is larger than ${MAX_SEALED_MANIFEST_BYTES} bytes`);
      const chunks: Buffer[] = [];
      const sink = new PassThrough();
      pipeline(entry as unknown as Readable, sink).catch((err: unknown) => (failure ??= err));
      for await (const c of sink) chunks.push(c as Buffer);
      if (failure) throw failure;
      return Buffer.concat(chunks);
    }
    throw failure ?? new Error("the archive is empty");
  } catch (err) {
    throw failure ?? err;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    stop.abort();
    body.destroy();
  }
}

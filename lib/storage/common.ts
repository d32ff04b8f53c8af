import "server-only";
import { createHash, type Hash } from "node:crypto";
import { PassThrough, Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AppError } from "@/lib/errors";
import { STORAGE_CLASSES, type ByteRange, type StorageKind, type StoredObject } from "./types";

/**
 * Counts bytes and computes SHA-256 of everything that passes through. (No `size`, `length` or
 * `byteLength` property: an SDK could take it for the body's total length.)
 */
export class Sha256Meter extends Transform {
  private readonly hash: Hash = createHash("sha256");
  private hex: string | undefined;
  bytesSeen = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
    this.hash.update(chunk);
    this.bytesSeen += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback) {
    this.hex = this.hash.digest("hex");
    callback();
  }

  /** Hex digest; only valid once the stream has ended. */
  digest(): string {
    if (this.hex === undefined) throw new Error("Sha256Meter: stream has not ended");
    return this.hex;
  }
}

const MAX_KEY_BYTES = 1024;

function badKey(what: string, value: string, why: string): AppError {
  const shown = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return new AppError("VALIDATION", `Invalid ${what} "${shown}": ${why}.`, {
    [what === "prefix" ? "prefix" : "key"]: [`${why}.`],
  });
}

function checkSegments(what: string, value: string) {
  if (value.includes("\0")) throw badKey(what, value, "it contains a NUL character");
  if (value.includes("\\")) throw badKey(what, value, "use / to separate folders, not \\");
  if (value.startsWith("/")) throw badKey(what, value, "it must be relative (no leading /)");
  for (const seg of value.split("/")) {
    if (seg === "." || seg === "..") throw badKey(what, value, `"${seg}" segments are not allowed`);
  }
}

/** Validates an object key: relative, `/`-separated, no empty, `.` or `..` segments. */
export function checkKey(key: string): string {
  if (typeof key !== "string" || key.length === 0) throw badKey("key", String(key), "it is empty");
  checkSegments("key", key);
  if (key.split("/").some((s) => s === ""))
    throw badKey("key", key, "it has an empty path segment (// or a trailing /)");
  if (Buffer.byteLength(key) > MAX_KEY_BYTES - 200) throw badKey("key", key, "it is too long");
  return key;
}

/** Validates a list prefix: like a key, but may be empty or end with `/`. */
export function checkListPrefix(prefix: string): string {
  if (typeof prefix !== "string") throw badKey("prefix", String(prefix), "it is not a string");
  if (prefix === "") return prefix;
  checkSegments("prefix", prefix);
  const body = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  if (body.split("/").some((s) => s === "")) throw badKey("prefix", prefix, "it has an empty path segment (//)");
  return prefix;
}

/** A run id as PutOptions.runId and removeLeftovers take it: safe inside a file name. */
export function checkRunId(runId: string): string {
  if (typeof runId !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(runId))
    throw new AppError("VALIDATION", "A run id may only contain letters, digits, '_' and '-' (at most 64).");
  return runId;
}

/** A destination prefix without leading/trailing slashes ("" for none). */
export function normalizePrefix(prefix: string | undefined): string {
  const p = (prefix ?? "").trim().replace(/^\/+|\/+$/g, "");
  if (p === "") return "";
  checkSegments("prefix", p);
  if (p.split("/").some((s) => s === "")) throw badKey("prefix", p, "it has an empty path segment (//)");
  return p;
}

/** Maps keys between the adapter's key space and the provider's, under a destination prefix. */
export class KeySpace {
  constructor(readonly prefix: string) {}

  full(key: string): string {
    checkKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  fullListPrefix(prefix: string): string {
    checkListPrefix(prefix);
    return this.prefix ? `${this.prefix}/${prefix}` : prefix;
  }

  /** The adapter key for a provider key, or undefined when it is outside the prefix or not a valid key (folder markers). */
  relative(fullKey: string): string | undefined {
    const rel = this.prefix
      ? fullKey.startsWith(`${this.prefix}/`)
        ? fullKey.slice(this.prefix.length + 1)
        : undefined
      : fullKey;
    if (rel === undefined || rel === "" || rel.endsWith("/")) return undefined;
    return rel;
  }
}

export function checkRange(range: ByteRange | undefined): ByteRange | undefined {
  if (!range) return undefined;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0)
    throw new AppError("VALIDATION", "The range start must be a whole number ≥ 0.");
  if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) {
    throw new AppError("VALIDATION", "The range end must be a whole number ≥ the range start (it is inclusive).");
  }
  return { start, end };
}

/** Canonical class name for `kind`, accepting any letter case; AppError VALIDATION otherwise. */
export function canonicalStorageClass(kind: "s3" | "gcs" | "azure", value: string): string {
  const classes: readonly string[] = STORAGE_CLASSES[kind];
  const found = classes.find((c) => c.toLowerCase() === String(value).trim().toLowerCase());
  if (!found) {
    throw new AppError(
      "VALIDATION",
      `"${String(value).slice(0, 40)}" is not a storage class here. Use one of: ${classes.join(", ")}.`,
      {
        storageClass: [`Use one of: ${classes.join(", ")}.`],
      },
    );
  }
  return found;
}

/** A put's provider key and canonical class, checked before any I/O; on a bad one the body is released. */
export function putTarget(
  kind: Exclude<StorageKind, "local" | "server">,
  keys: KeySpace,
  key: string,
  body: Readable,
  storageClass: string | undefined,
) {
  try {
    return {
      fullKey: keys.full(key),
      storageClass: storageClass ? canonicalStorageClass(kind, storageClass) : undefined,
    };
  } catch (err) {
    body.destroy();
    throw err;
  }
}

export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

/** Marks streams we destroyed ourselves, so their errors are not taken for the caller's. */
const STOP = new Error("storage upload stopped");

/**
 * Runs an upload of `body` through a SHA-256 meter.
 * - `send(source, signal)` must consume `source` to its end and resolve once the object is stored
 *   (with the sizes of its parts, for a multipart upload), or reject (and leave nothing visible)
 *   when `source` errors or `signal` aborts.
 * - A failing `body` rejects with its own error; an aborted `signal` with its reason; anything
 *   else goes through `mapError`.
 */
export async function meteredUpload(
  body: Readable,
  signal: AbortSignal | undefined,
  send: (source: Readable, signal: AbortSignal) => Promise<void | number[]>,
  mapError: (err: unknown) => Error,
): Promise<StoredObject> {
  if (signal?.aborted) {
    body.destroy();
    throw abortReason(signal);
  }
  const meter = new Sha256Meter();
  const controller = new AbortController();
  let sourceError: unknown;
  // Whoever fails first is at fault: the source (an error, or closing before its end) or the
  // sender (a write error, or a loop that stopped reading), which destroys the meter first. The
  // other side then fails with the same error or an abort, which says nothing about the cause.
  let sourceFailedFirst: boolean | undefined;
  const sourceFailed = () => (sourceFailedFirst ??= true);
  body.once("error", sourceFailed);
  body.once("close", () => !body.readableEnded && sourceFailed());
  meter.once("error", () => (sourceFailedFirst ??= false));
  meter.once("close", () => !meter.readableEnded && (sourceFailedFirst ??= false));
  const onAbort = () => {
    controller.abort(abortReason(signal as AbortSignal));
    meter.destroy(STOP);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const piped = pipeline(body, meter).then(
    () => undefined,
    (err: unknown) => {
      if (err !== STOP && !signal?.aborted && sourceFailedFirst) sourceError ??= err;
      if (!controller.signal.aborted) controller.abort(err);
    },
  );
  try {
    const parts = await send(meter, controller.signal);
    await piped;
    // A late abort after the provider confirmed the whole object changes nothing: it is stored.
    if (sourceError !== undefined) throw sourceError;
    if (!meter.readableEnded) throw new Error("upload finished before the source stream ended");
    return { size: meter.bytesSeen, sha256: meter.digest(), ...(parts && { parts }) };
  } catch (err) {
    if (!meter.destroyed) meter.destroy(STOP);
    await piped;
    if (signal?.aborted) throw abortReason(signal);
    if (sourceError !== undefined) throw sourceError;
    throw mapError(err);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Wraps a provider's download stream: provider errors become AppErrors, aborting `signal`
 * destroys the stream with the signal's reason, and destroying the returned stream stops the
 * download.
 */
export function guardDownload(source: Readable, mapError: (err: unknown) => Error, signal?: AbortSignal): Readable {
  const out = new PassThrough();
  const onAbort = () => out.destroy(abortReason(signal as AbortSignal) as Error);
  const onError = (err: unknown) => out.destroy(signal?.aborted ? (abortReason(signal) as Error) : mapError(err));
  source.on("error", onError);
  out.once("close", () => {
    signal?.removeEventListener("abort", onAbort);
    if (!source.destroyed) source.destroy();
  });
  if (signal) {
    if (signal.aborted) queueMicrotask(onAbort);
    else signal.addEventListener("abort", onAbort, { once: true });
  }
  source.pipe(out);
  return out;
}

/** "host:port" of a URL, with the scheme's default port. */
export function hostPort(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname.replace(/^\[|\]$/g, "")}:${u.port || (u.protocol === "http:" ? "80" : "443")}`;
  } catch {
    return url;
  }
}

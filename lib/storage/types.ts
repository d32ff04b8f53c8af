import "server-only";
import type { Readable } from "node:stream";

import type { StorageKind } from "./classes";

/** "server" is a backup directory on one of the team's servers (server-dir.ts, built over a Reach). */
export type { StorageKind };

/** What `put` wrote: byte count and SHA-256 (hex) of exactly those bytes, computed while streaming. */
export interface StoredObject {
  size: number;
  sha256: string;
  /** The sizes of the parts (S3) or blocks (Azure) it was uploaded in, when it took more than one request. */
  parts?: number[];
}

export interface ObjectInfo {
  /** Key relative to the destination's prefix (the same key `put` was given). */
  key: string;
  size: number;
  /** Canonical class name (see STORAGE_CLASSES); absent for the local disk and server directories. */
  storageClass?: string;
  lastModified?: Date;
}

export interface PutOptions {
  /** One of STORAGE_CLASSES[kind] (case-insensitive); ignored by the local disk. */
  storageClass?: string;
  /** Aborting rejects `put` with the signal's reason and leaves no object behind. */
  signal?: AbortSignal;
  /**
   * Expected size in bytes, when known (the previous backup of the same sources). S3 and Azure
   * choose their part size from it; without it (or past it) parts grow as the upload goes.
   */
  sizeHint?: number;
  /**
   * The run writing the object (letters, digits, `_`, `-`): temporary files carry it in their
   * names, so `removeLeftovers` finds what a run that died left behind.
   */
  runId?: string;
}

/** What a destination can take, for the checks before a backup is written. */
export interface Room {
  /** The largest object it stores (with the expected size as the size hint); Infinity for disks. */
  largestObject: number;
  /** How that limit comes about, in one line ("S3: up to 10,000 parts, 8 MiB growing to 5 GiB"). */
  why: string;
  /** Free space, where the destination is a disk. */
  freeBytes?: number;
  /** Space on the Coffer host's disk an upload of the expected size holds its larger parts in, when it needs any. */
  spool?: { dir: string; bytes: number; freeBytes: number };
}

/** Inclusive byte range; `end` omitted means "to the last byte". */
export interface ByteRange {
  start: number;
  end?: number;
}

export interface GetOptions {
  range?: ByteRange;
  /** Aborting destroys the returned stream with the signal's reason. */
  signal?: AbortSignal;
}

export interface RetrieveOptions {
  /**
   * Ask the provider for a readable copy when the object is archived and no retrieval is under
   * way (default true). With false, `retrieve` only reports the state and never answers "requested".
   */
  request?: boolean;
  /** S3: days a restored copy stays readable before S3 removes it again (default 7). */
  days?: number;
}

/**
 * Whether an object can be read now, and what `retrieve` did about it:
 * - "ready": it can be read (its class reads directly, or a retrieval has finished);
 * - "archived": it needs a retrieval and none is under way (only with `request: false`);
 * - "in-progress": a retrieval was requested earlier (by Coffer or anyone else) and has not finished;
 * - "requested": this call asked the provider for a readable copy.
 */
export interface Retrieval {
  state: "ready" | "archived" | "in-progress" | "requested";
  /** "requested": when the provider's standard retrieval will be done at the latest (RETRIEVAL_HOURS). */
  readyBy?: Date;
  /** "ready" after an S3 restore: when S3 removes the readable copy again. */
  readableUntil?: Date;
  /** The object's class as the provider reports it now (a rehydrated Azure blob is no longer Archive); absent where classes do not apply. */
  storageClass?: string;
}

/**
 * One storage destination. Keys are `/`-separated relative paths (no empty, `.` or `..`
 * segments); every key lives under the destination's prefix. Errors are AppErrors with
 * messages that say what to fix, except:
 * - a failing `body` stream rejects `put` with that stream's own error;
 * - an aborted signal rejects with the signal's reason.
 */
export interface StorageAdapter {
  readonly kind: StorageKind;
  /**
   * Streams `body` to `key` (replacing any object there), never buffering the whole object.
   * Resolves once the object is durably stored and visible; on failure or abort nothing new is
   * visible at `key` (an object already there before is left as it was).
   */
  put(key: string, body: Readable, opts?: PutOptions): Promise<StoredObject>;
  /**
   * Resolves once the provider has answered (a missing object rejects with NOT_FOUND), with a
   * stream of the object's bytes, or exactly the bytes of `range`.
   */
  get(key: string, opts?: GetOptions): Promise<Readable>;
  /** Size and class of an object, or null when there is none. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Idempotent: deleting a missing object succeeds. */
  delete(key: string): Promise<void>;
  /**
   * Removes what unfinished writes of `runId` to `key` left behind (a process that died
   * mid-write): temporary files named after the run (local disk, server directories), unfinished
   * S3 multipart uploads and uncommitted Azure blocks at `key` (keys are unique to a run there).
   * Never touches a stored object. Only for runs known to have stopped; resolves with how many
   * leftovers it removed. GCS resumable sessions cannot be listed: one that the failing put could
   * not cancel expires after a week and never becomes an object.
   */
  removeLeftovers(key: string, runId: string): Promise<number>;
  /** What the destination can take: its largest object for `expected` bytes, and its free space where that applies. */
  room(expected?: number): Promise<Room>;
  /** Every object whose key starts with `prefix` (a plain string prefix, "" for all). Order is provider-defined. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Moves an existing object to another class (S3 copy-in-place, GCS rewrite, Azure tier). No-op on the local disk. */
  setStorageClass(key: string, storageClass: string): Promise<void>;
  /**
   * Archive classes (S3 GLACIER / DEEP_ARCHIVE, Azure Archive) are read only after the provider
   * makes a readable copy, which takes hours. Reports whether the object can be read now and,
   * unless `request` is false, starts a standard-priority retrieval when none is under way: S3
   * RestoreObject (a temporary copy for `days`), Azure Set Blob Tier to Cool (the blob leaves
   * Archive). Never requests twice: an ongoing retrieval answers "in-progress". Objects in every
   * other class (and on disks) are "ready". A missing object rejects with NOT_FOUND.
   */
  retrieve(key: string, opts?: RetrieveOptions): Promise<Retrieval>;
}

// --- Configuration ------------------------------------------------------------------------------

/** A folder on the Coffer host. */
export interface LocalStorageConfig {
  kind: "local";
  /** Absolute path of an existing folder. */
  root: string;
  prefix?: string;
  /** How messages name the folder instead of its path, which members need not learn. */
  label?: string;
}

/** Amazon S3 or an S3-compatible service (MinIO, Backblaze B2, Cloudflare R2, Wasabi…). */
export interface S3StorageConfig {
  kind: "s3";
  bucket: string;
  prefix?: string;
  region: string;
  /** Custom endpoint URL for S3-compatible services; omit for AWS. */
  endpoint?: string;
  /** Path-style URLs (endpoint/bucket/key). Defaults to true when `endpoint` is set, else false. */
  forcePathStyle?: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The service-account key file Google Cloud hands out (JSON). */
export interface GcsServiceAccountKey {
  client_email: string;
  private_key: string;
  project_id?: string;
  private_key_id?: string;
  [field: string]: unknown;
}

export interface GcsStorageConfig {
  kind: "gcs";
  bucket: string;
  prefix?: string;
  /** Service-account key. Required unless `apiEndpoint` points at a GCS-compatible server that needs none. */
  credentials?: GcsServiceAccountKey;
  /** Custom API endpoint, e.g. an emulator (http://127.0.0.1:4443) or a private endpoint. */
  apiEndpoint?: string;
  projectId?: string;
}

/**
 * Azure Blob Storage. Exactly one way to authenticate: a connection string, an account name
 * with its key (and optionally a custom blob endpoint), or a SAS URL (service or container).
 */
export interface AzureStorageConfig {
  kind: "azure";
  container: string;
  prefix?: string;
  connectionString?: string;
  accountName?: string;
  accountKey?: string;
  /** Blob service endpoint; defaults to https://<accountName>.blob.core.windows.net */
  endpoint?: string;
  sasUrl?: string;
}

export type StorageConfig = LocalStorageConfig | S3StorageConfig | GcsStorageConfig | AzureStorageConfig;

export { RETRIEVAL_HOURS, retrievalHours, STORAGE_CLASSES } from "./classes";

export interface ProbeResult {
  ok: true;
  /** Wall time of write + read back + delete of the probe object. */
  latencyMs: number;
}

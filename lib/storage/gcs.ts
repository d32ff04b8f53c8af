import "server-only";
import { IdempotencyStrategy, Storage, type Bucket, type File, type FileMetadata } from "@google-cloud/storage";
import { once } from "node:events";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pool as teenyAgents } from "teeny-request/build/src/agents";
import { AppError } from "@/lib/errors";
import type { GuardedAgents } from "@/lib/net/guarded-agent";
import {
  canonicalStorageClass,
  checkRunId,
  putTarget,
  checkRange,
  guardDownload,
  hostPort,
  KeySpace,
  meteredUpload,
  normalizePrefix,
} from "./common";
import { toStorageError } from "./errors";
import { GCS_MAX_OBJECT } from "./limits";
import type {
  GcsStorageConfig,
  GetOptions,
  ObjectInfo,
  PutOptions,
  Retrieval,
  Room,
  StorageAdapter,
  StoredObject,
} from "./types";

type Interceptor = File["interceptors"][number];
type StorageOptions = NonNullable<ConstructorParameters<typeof Storage>[0]>;

const MiB = 1024 * 1024;

/**
 * Requests other than uploads: 3 retries, 1 s → 8 s apart. Uploads: without a chunk size the SDK
 * streams the whole object in one request, which it cannot resume once bytes are lost; it also
 * retries an upload only under `RetryAlways` (no generation precondition here), counts retries
 * over the whole upload and stops retrying `totalTimeout` after the upload began. So uploads go
 * in chunks it holds until GCS confirms them, with their own budget for a long upload.
 */
const REQUEST_RETRIES: StorageOptions["retryOptions"] = {
  autoRetry: true,
  maxRetries: 3,
  retryDelayMultiplier: 2,
  maxRetryDelay: 8,
  totalTimeout: 120,
};
const UPLOAD_RETRIES: StorageOptions["retryOptions"] = {
  autoRetry: true,
  maxRetries: 10,
  retryDelayMultiplier: 2,
  maxRetryDelay: 16,
  totalTimeout: 7 * 24 * 3600, // a resumable session lives a week
  idempotencyStrategy: IdempotencyStrategy.RetryAlways, // resuming asks GCS how far it got: safe
};
/** Chunk size (a multiple of 256 KiB): each chunk is one request, held in memory until GCS confirms it. */
const CHUNK_BYTES = 32 * MiB;

/**
 * Google Cloud Storage through @google-cloud/storage v7.
 *
 * Auth: with a service-account key, every request is authenticated — also against a custom
 * `apiEndpoint` (`useAuthWithCustomEndpoint`). The SDK forgets that option for resumable uploads
 * to hosts outside googleapis.com, so for those the upload's session-creating request gets the
 * Authorization header through a request interceptor. Without a key (allowed only with a custom
 * endpoint), requests are anonymous and google-auth-library is never asked for credentials, so
 * nothing tries to reach Google.
 *
 * Sockets: the SDK offers no agent option. Its JSON API requests (teeny-request) take their
 * keep-alive agent from teeny-request's process-wide pool, so with `agents` that pool holds the
 * address guard's agents (the guard's setting is the same for the whole process); resumable
 * uploads (gaxios) get them through a request interceptor, with redirects off. teeny-request
 * follows redirects, each hop through the same guarded agent.
 */
export class GcsAdapter implements StorageAdapter {
  readonly kind = "gcs" as const;
  private readonly storage: Storage;
  private readonly bucket: Bucket;
  /** The same bucket through a client with the uploads' retry budget. */
  private readonly uploads: Storage;
  private readonly keys: KeySpace;
  private readonly host: string;
  private readonly interceptUploadAuth: boolean;

  constructor(
    private readonly config: GcsStorageConfig,
    agents?: GuardedAgents,
  ) {
    this.keys = new KeySpace(normalizePrefix(config.prefix));
    this.host = config.apiEndpoint ? hostPort(config.apiEndpoint) : "storage.googleapis.com:443";
    poolGuardedAgents(agents);
    this.storage = storageClient(config, agents, REQUEST_RETRIES);
    this.uploads = storageClient(config, agents, UPLOAD_RETRIES);
    this.bucket = this.storage.bucket(config.bucket);
    let googleHost = true;
    if (config.apiEndpoint) {
      try {
        const host = new URL(config.apiEndpoint).hostname;
        googleHost = host === "googleapis.com" || host.endsWith(".googleapis.com");
      } catch {
        googleHost = false;
      }
    }
    this.interceptUploadAuth = Boolean(config.credentials) && !googleHost;
  }

  private fail(err: unknown, key?: string): Error {
    return toStorageError(err, {
      provider: "gcs",
      bucket: this.config.bucket,
      host: this.host,
      key,
      secrets: [this.config.credentials?.private_key, this.config.credentials?.private_key_id],
    });
  }

  private async addUploadAuth(file: File) {
    if (!this.interceptUploadAuth) return;
    const headers = (await this.uploads.authClient.getRequestHeaders(
      `${this.uploads.apiEndpoint}/upload/storage/v1/b`,
    )) as Record<string, string>;
    const interceptor: Interceptor = {
      request: (opts) => ({ ...opts, headers: { ...opts.headers, ...headers } }) as ReturnType<Interceptor["request"]>,
    };
    file.interceptors.push(interceptor);
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<StoredObject> {
    const { fullKey, storageClass } = putTarget("gcs", this.keys, key, body, opts.storageClass);
    return meteredUpload(
      body,
      opts.signal,
      async (source, signal) => {
        const file = this.uploads.bucket(this.config.bucket).file(fullKey);
        await this.addUploadAuth(file);
        // One resumable session, sent in chunks: the object only exists once the final byte is
        // acknowledged; a broken or cancelled stream leaves no object. A chunk whose connection
        // breaks is sent again from where GCS says it got. The SDK then compares the MD5 of what
        // it sent with the MD5 GCS reports, and deletes the object and fails on a mismatch. MD5
        // rather than CRC32C because the SDK's CRC32C is pure JavaScript (~200 MB/s a core, MD5
        // ~600 MB/s); objects written this way are never composite, so GCS always has their MD5.
        // An empty object goes in one request: the SDK's chunked mode cannot send zero bytes.
        const empty = await endsEmpty(source, signal);
        const ws = file.createWriteStream({
          resumable: true,
          ...(!empty && { chunkSize: CHUNK_BYTES }),
          validation: "md5",
          metadata: { contentType: "application/octet-stream", ...(storageClass ? { storageClass } : {}) },
        });
        let sessionUri: string | undefined;
        ws.on("uri", (uri: string) => (sessionUri = uri));
        try {
          await pipeline(source, ws, { signal });
        } catch (err) {
          if (sessionUri) await cancelSession(sessionUri, this.uploads.apiEndpoint);
          throw err;
        }
      },
      (err) => this.fail(err, key),
    );
  }

  /** Resumable sessions cannot be listed: a dead run's session expires after a week and never becomes an object. */
  async removeLeftovers(_key: string, runId: string): Promise<number> {
    checkRunId(runId);
    return 0;
  }

  async room(): Promise<Room> {
    return {
      largestObject: GCS_MAX_OBJECT,
      why: `Google Cloud Storage: objects up to 5 TiB, sent in ${CHUNK_BYTES / MiB} MiB chunks`,
    };
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    const file = this.bucket.file(this.keys.full(key));
    const range = checkRange(opts.range);
    opts.signal?.throwIfAborted();
    // Whole objects are checked against their CRC32C; ranges cannot be.
    const stream = file.createReadStream(
      range ? { start: range.start, end: range.end, validation: false } : { validation: "crc32c" },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(opts.signal?.reason);
        const done = () => {
          stream.off("response", onResponse);
          stream.off("error", onError);
          opts.signal?.removeEventListener("abort", onAbort);
        };
        const onResponse = (res: { statusCode?: number }) => {
          // Error statuses are followed by an 'error' event carrying the API error.
          if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) {
            done();
            resolve();
          }
        };
        const onError = (err: unknown) => {
          done();
          reject(err);
        };
        stream.on("response", onResponse);
        stream.on("error", onError);
        opts.signal?.addEventListener("abort", onAbort, { once: true });
        stream.read(0); // the SDK sends the request on the first read
      });
    } catch (err) {
      stream.destroy();
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw this.fail(err, key);
    }
    return guardDownload(stream, (err) => this.fail(err, key), opts.signal);
  }

  /** Missing object → null; a missing bucket (also a 404) is an error. */
  private async metadata(key: string): Promise<FileMetadata | null> {
    try {
      const [metadata] = await this.bucket.file(this.keys.full(key)).getMetadata();
      return metadata;
    } catch (err) {
      if (isObjectNotFound(err)) return null;
      throw this.fail(err, key);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const m = await this.metadata(key);
    return m ? info(key, m) : null;
  }

  async delete(key: string): Promise<void> {
    try {
      await this.bucket.file(this.keys.full(key)).delete();
    } catch (err) {
      if (isObjectNotFound(err)) return;
      throw this.fail(err, key);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const full = this.keys.fullListPrefix(prefix);
    let pageToken: string | undefined;
    do {
      let files: File[];
      let next: { pageToken?: string } | null | undefined;
      try {
        [files, next] = (await this.bucket.getFiles({
          prefix: full,
          autoPaginate: false,
          maxResults: 1000,
          pageToken,
        })) as [File[], { pageToken?: string } | null, unknown];
      } catch (err) {
        throw this.fail(err);
      }
      for (const f of files) {
        const key = this.keys.relative(f.name);
        if (key !== undefined) yield info(key, f.metadata);
      }
      pageToken = next?.pageToken;
    } while (pageToken);
  }

  async setStorageClass(key: string, storageClass: string): Promise<void> {
    const target = canonicalStorageClass("gcs", storageClass);
    const m = await this.metadata(key);
    if (!m) throw new AppError("NOT_FOUND", `Object "${key}" does not exist in bucket "${this.config.bucket}".`);
    if (m.storageClass === target) return;
    try {
      await this.bucket.file(this.keys.full(key)).setStorageClass(target);
    } catch (err) {
      throw this.fail(err, key);
    }
  }

  /** Every GCS class, ARCHIVE included, reads directly (at a per-GB retrieval fee). */
  async retrieve(key: string): Promise<Retrieval> {
    const m = await this.metadata(key);
    if (!m) throw new AppError("NOT_FOUND", `Object "${key}" does not exist in bucket "${this.config.bucket}".`);
    return { state: "ready", ...(m.storageClass && { storageClass: m.storageClass }) };
  }
}

function storageClient(
  config: GcsStorageConfig,
  agents: GuardedAgents | undefined,
  retryOptions: StorageOptions["retryOptions"],
): Storage {
  const key = config.credentials;
  const storage = new Storage({
    projectId: config.projectId ?? key?.project_id,
    apiEndpoint: config.apiEndpoint,
    // Only the fields a service-account key needs: other credential types (external_account,
    // impersonation…) can make google-auth-library read local files or call arbitrary URLs.
    credentials: key
      ? {
          type: "service_account",
          client_email: key.client_email,
          private_key: key.private_key,
          ...(typeof key.private_key_id === "string" ? { private_key_id: key.private_key_id } : {}),
          // The universe names the API host (storage.<universe>) unless an endpoint is given:
          // only Google's own, or with a custom endpoint (which the guard checks).
          ...(typeof key.universe_domain === "string" &&
          (config.apiEndpoint || key.universe_domain === "googleapis.com")
            ? { universe_domain: key.universe_domain }
            : {}),
        }
      : undefined,
    useAuthWithCustomEndpoint: Boolean(key),
    retryOptions,
  });
  if (agents)
    storage.interceptors.push({
      request: (opts) => ({
        ...opts,
        forever: true, // the pooled (guarded) agent, never a fresh unguarded one
        agent: (url: URL) => (url.protocol === "http:" ? agents.http : agents.https),
        maxRedirects: 0,
      }),
    } as Interceptor);
  return storage;
}

/** Puts the guard's agents (or, without them, nothing) into teeny-request's shared pool. */
function poolGuardedAgents(agents: GuardedAgents | undefined) {
  for (const [key, agent] of [
    ["http:forever", agents?.http],
    ["https:forever", agents?.https],
  ] as const) {
    if (agent) teenyAgents.set(key, agent);
    else teenyAgents.delete(key);
  }
}

function info(key: string, m: FileMetadata): ObjectInfo {
  return {
    key,
    size: Number(m.size ?? 0),
    storageClass: m.storageClass,
    lastModified: m.updated ? new Date(m.updated) : undefined,
  };
}

function isObjectNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === 404 && !/bucket does not exist/i.test(String(e.message ?? ""));
}

/** Waits until `stream` has bytes to read or has ended; true when it ended without any. */
async function endsEmpty(stream: Readable, signal: AbortSignal): Promise<boolean> {
  if (stream.readableLength > 0) return false;
  if (!stream.readableEnded) await once(stream, "readable", { signal });
  return stream.readableLength === 0;
}

/**
 * Best effort: tell GCS to drop an unfinished resumable session (it answers 499). The session URI
 * is whatever the endpoint answered, so it is only followed to that endpoint's own origin, without
 * redirects: an endpoint of someone's own could otherwise send this DELETE into a private network.
 */
export async function cancelSession(uri: string, apiEndpoint: string) {
  try {
    if (new URL(uri).origin !== new URL(apiEndpoint).origin) return;
    const res = await fetch(uri, {
      method: "DELETE",
      headers: { "Content-Length": "0" },
      redirect: "manual",
      signal: AbortSignal.timeout(10_000),
    });
    await res.body?.cancel();
  } catch {
    // The session expires on its own within a week and never becomes an object.
  }
}

import "server-only";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  RestoreObjectCommand,
  S3Client,
  UploadPartCopyCommand,
  type CompletedPart,
  type HeadObjectCommandOutput,
  type StorageClass,
} from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";
import { AppError } from "@/lib/errors";
import type { GuardedAgents } from "@/lib/net/guarded-agent";
import { retrievalHours } from "./classes";
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
import { s3Limits } from "./limits";
import { spoolFor, uploadTuning, type UploadTuning } from "./multipart";
import { PartPlan, type PartLimits } from "./parts";
import { abortS3Uploads, putS3Object } from "./s3-upload";
import type {
  GetOptions,
  ObjectInfo,
  PutOptions,
  Retrieval,
  RetrieveOptions,
  Room,
  S3StorageConfig,
  StorageAdapter,
  StoredObject,
} from "./types";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Knobs for tests; production uses the defaults. */
export interface S3Tuning {
  /** Largest object changed in place with one CopyObject (S3's limit: 5 GiB); bigger ones use a multipart copy. */
  copyObjectMaxBytes?: number;
  /** Part size of a multipart copy (default 512 MiB, grown to stay within 10,000 parts). */
  copyPartSize?: number;
}

/**
 * HeadObject's `Restore` (the x-amz-restore header): `ongoing-request="true"` while a restore
 * runs; `ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"` once the restored
 * copy can be read (until that date). Null when the object was never restored, or the text is not
 * understood.
 */
export function parseRestoreHeader(value: string | undefined): { ongoing: boolean; expiry?: Date } | null {
  const ongoing = value && /ongoing-request\s*=\s*"(true|false)"/i.exec(value)?.[1]?.toLowerCase();
  if (!ongoing) return null;
  const expiry = /expiry-date\s*=\s*"([^"]+)"/i.exec(value)?.[1];
  const date = expiry ? new Date(expiry) : undefined;
  return { ongoing: ongoing === "true", ...(date && !Number.isNaN(date.getTime()) && { expiry: date }) };
}

/** S3 and S3-compatible services, through the AWS SDK v3. */
export class S3Adapter implements StorageAdapter {
  readonly kind = "s3" as const;
  private readonly client: S3Client;
  /** The same, without its own retries: uploadInParts retries parts with a fresh body. */
  private readonly partClient: S3Client;
  private readonly keys: KeySpace;
  private readonly bucket: string;
  private readonly host: string;
  private readonly copy: Required<S3Tuning>;
  private readonly limits: PartLimits;

  /**
   * `agents`: lib/net's guarded agents (sockets go to the address the guard checked, not to
   * whatever a second DNS answer says). `tuning`: tests only.
   */
  constructor(
    private readonly config: S3StorageConfig,
    agents?: GuardedAgents,
    private readonly tuning: UploadTuning & { s3?: S3Tuning } = {},
  ) {
    this.bucket = config.bucket;
    this.keys = new KeySpace(normalizePrefix(config.prefix));
    this.host = config.endpoint ? hostPort(config.endpoint) : `s3.${config.region}.amazonaws.com:443`;
    this.copy = {
      copyObjectMaxBytes: tuning.s3?.copyObjectMaxBytes ?? 5 * GiB,
      copyPartSize: tuning.s3?.copyPartSize ?? 512 * MiB,
    };
    this.limits = { ...s3Limits(config.endpoint), ...tuning.limits };
    this.client = s3Client(config, agents, 3);
    this.partClient = s3Client(config, agents, 1);
  }

  private fail(err: unknown, key?: string): Error {
    return toStorageError(err, {
      provider: "s3",
      bucket: this.bucket,
      host: this.host,
      region: this.config.region,
      key,
      secrets: [this.config.secretAccessKey, this.config.sessionToken],
    });
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<StoredObject> {
    const { fullKey, storageClass } = putTarget("s3", this.keys, key, body, opts.storageClass);
    const target = {
      client: this.client,
      partClient: this.partClient,
      bucket: this.bucket,
      key: fullKey,
      storageClass: storageClass as StorageClass | undefined,
    };
    const plan = new PartPlan(this.limits, opts.sizeHint);
    return meteredUpload(
      body,
      opts.signal,
      (source, signal) => putS3Object(target, source, plan, uploadTuning(this.tuning), signal),
      (err) => this.fail(err, key),
    );
  }

  async removeLeftovers(key: string, runId: string): Promise<number> {
    checkRunId(runId);
    try {
      return await abortS3Uploads(this.client, this.bucket, this.keys.full(key));
    } catch (err) {
      throw this.fail(err, key);
    }
  }

  async room(expected?: number): Promise<Room> {
    const plan = new PartPlan(this.limits, expected);
    return {
      largestObject: plan.largestObject(),
      why: plan.describe(),
      spool: await spoolFor(plan, expected, uploadTuning(this.tuning)),
    };
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    const fullKey = this.keys.full(key);
    const range = checkRange(opts.range);
    opts.signal?.throwIfAborted();
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: fullKey,
          Range: range ? `bytes=${range.start}-${range.end ?? ""}` : undefined,
        }),
        { abortSignal: opts.signal },
      );
      if (!res.Body) throw new AppError("UPSTREAM", `S3 returned no data for object "${key}". Try again.`);
      return guardDownload(res.Body as Readable, (err) => this.fail(err, key), opts.signal);
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw this.fail(err, key);
    }
  }

  private async headRaw(key: string): Promise<HeadObjectCommandOutput | null> {
    try {
      return await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keys.full(key) }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) return null;
      throw this.fail(err, key);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const h = await this.headRaw(key);
    if (!h) return null;
    return {
      key,
      size: h.ContentLength ?? 0,
      storageClass: h.StorageClass ?? "STANDARD",
      lastModified: h.LastModified,
    };
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keys.full(key) }));
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw this.fail(err, key);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const full = this.keys.fullListPrefix(prefix);
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, ContinuationToken: token, MaxKeys: 1000 }),
        );
      } catch (err) {
        throw this.fail(err);
      }
      for (const o of page.Contents ?? []) {
        const key = o.Key === undefined ? undefined : this.keys.relative(o.Key);
        if (key === undefined) continue;
        yield { key, size: o.Size ?? 0, storageClass: o.StorageClass ?? "STANDARD", lastModified: o.LastModified };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async setStorageClass(key: string, storageClass: string): Promise<void> {
    const target = canonicalStorageClass("s3", storageClass) as StorageClass;
    const fullKey = this.keys.full(key);
    const head = await this.headRaw(key);
    if (!head) throw new AppError("NOT_FOUND", `Object "${key}" does not exist in bucket "${this.bucket}".`);
    if ((head.StorageClass ?? "STANDARD") === target) return;
    const copySource = `${encodeURIComponent(this.bucket)}/${fullKey.split("/").map(encodeURIComponent).join("/")}`;
    try {
      if ((head.ContentLength ?? 0) <= this.copy.copyObjectMaxBytes) {
        await this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: fullKey,
            CopySource: copySource,
            CopySourceIfMatch: head.ETag,
            StorageClass: target,
            MetadataDirective: "COPY",
          }),
        );
      } else {
        await this.multipartCopy(fullKey, copySource, head, target);
      }
    } catch (err) {
      throw this.fail(err, key);
    }
  }

  async retrieve(key: string, opts: RetrieveOptions = {}): Promise<Retrieval> {
    const days = opts.days ?? 7;
    if (!Number.isSafeInteger(days) || days < 1)
      throw new AppError("VALIDATION", "A restored copy stays readable for a whole number of days, at least 1.");
    const head = await this.headRaw(key);
    if (!head) throw new AppError("NOT_FOUND", `Object "${key}" does not exist in bucket "${this.bucket}".`);
    const storageClass = head.StorageClass ?? "STANDARD";
    const hours = retrievalHours("s3", storageClass);
    if (!hours) return { state: "ready", storageClass };
    const restore = parseRestoreHeader(head.Restore);
    if (restore?.ongoing) return { state: "in-progress", storageClass };
    if (restore && (!restore.expiry || restore.expiry.getTime() > Date.now()))
      return { state: "ready", storageClass, ...(restore.expiry && { readableUntil: restore.expiry }) };
    if (opts.request === false) return { state: "archived", storageClass };
    try {
      const res = await this.client.send(
        new RestoreObjectCommand({
          Bucket: this.bucket,
          Key: this.keys.full(key),
          RestoreRequest: { Days: days, GlacierJobParameters: { Tier: "Standard" } },
        }),
      );
      // 200 instead of 202: a restored copy was already there (another request finished in between); S3 only extended its life.
      if (res.$metadata.httpStatusCode === 200) return { state: "ready", storageClass };
      return { state: "requested", storageClass, readyBy: new Date(Date.now() + hours * 3_600_000) };
    } catch (err) {
      const e = err as { name?: string; Code?: string };
      if (e?.name === "RestoreAlreadyInProgress" || e?.Code === "RestoreAlreadyInProgress")
        return { state: "in-progress", storageClass };
      throw this.fail(err, key);
    }
  }

  /** CopyObject stops at 5 GiB; beyond that S3 needs UploadPartCopy. Metadata is carried over by hand. */
  private async multipartCopy(
    fullKey: string,
    copySource: string,
    head: HeadObjectCommandOutput,
    target: StorageClass,
  ) {
    const size = head.ContentLength ?? 0;
    const partSize = Math.max(this.copy.copyPartSize, Math.ceil(size / this.limits.maxParts / MiB) * MiB);
    const created = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: fullKey,
        StorageClass: target,
        ContentType: head.ContentType,
        ContentEncoding: head.ContentEncoding,
        ContentDisposition: head.ContentDisposition,
        ContentLanguage: head.ContentLanguage,
        CacheControl: head.CacheControl,
        Metadata: head.Metadata,
        ServerSideEncryption: head.ServerSideEncryption,
        SSEKMSKeyId: head.SSEKMSKeyId,
      }),
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new AppError("UPSTREAM", "S3 did not start the multipart copy (no upload id). Try again.");
    try {
      const count = Math.max(1, Math.ceil(size / partSize));
      const parts: CompletedPart[] = new Array(count);
      let next = 0;
      let failure: { err: unknown } | undefined;
      // A failed part stops the others from starting new ones, and the abort waits for those being
      // copied: S3 may keep a part still being copied when its upload is aborted, billed with
      // nothing left to find it. They are not cancelled, since S3 goes on copying a cancelled one.
      const worker = async () => {
        while (next < count && !failure) {
          const i = next++;
          const start = i * partSize;
          const end = Math.min(size, start + partSize) - 1;
          try {
            const res = await this.client.send(
              new UploadPartCopyCommand({
                Bucket: this.bucket,
                Key: fullKey,
                UploadId: uploadId,
                PartNumber: i + 1,
                CopySource: copySource,
                CopySourceIfMatch: head.ETag,
                CopySourceRange: `bytes=${start}-${end}`,
              }),
            );
            parts[i] = { PartNumber: i + 1, ETag: res.CopyPartResult?.ETag };
          } catch (err) {
            failure ??= { err };
          }
        }
      };
      await Promise.allSettled(Array.from({ length: Math.min(4, count) }, worker));
      if (failure) throw failure.err;
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: fullKey,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (err) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: fullKey, UploadId: uploadId }))
        .catch(() => {});
      throw err;
    }
  }
}

function s3Client(config: S3StorageConfig, agents: GuardedAgents | undefined, maxAttempts: number): S3Client {
  return new S3Client({
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle ?? Boolean(config.endpoint),
    credentials: {
      accessKeyId: config.accessKeyId,
      secretAccessKey: config.secretAccessKey,
      sessionToken: config.sessionToken,
    },
    // The default ("WHEN_SUPPORTED") wraps streamed bodies in aws-chunked framing with trailing
    // checksums, which several S3-compatible services (and s3rver) store verbatim.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts,
    // Fail fast on an unreachable endpoint. A connection that stays silent is dropped by the
    // guarded agents (lib/net/guarded-agent.ts), which, unlike a request timeout, do not count
    // the time Coffer itself stops reading (a restore waiting for psql to build an index).
    requestHandler: {
      connectionTimeout: 10_000,
      ...(agents && { httpAgent: agents.http, httpsAgent: agents.https }),
    },
  });
}

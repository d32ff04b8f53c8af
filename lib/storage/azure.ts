import "server-only";
import {
  BlobServiceClient,
  ContainerClient,
  StorageSharedKeyCredential,
  type StoragePipelineOptions,
} from "@azure/storage-blob";
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
import { AZURE_LIMITS } from "./limits";
import { spoolFor, uploadInParts, uploadTuning, type UploadTuning } from "./multipart";
import { PartPlan, type PartLimits } from "./parts";
import type {
  AzureStorageConfig,
  GetOptions,
  ObjectInfo,
  PutOptions,
  Retrieval,
  RetrieveOptions,
  Room,
  StorageAdapter,
  StoredObject,
} from "./types";

/**
 * Pipeline settings. `agent` and `redirectOptions` are options of the Azure core pipeline that the
 * storage pipeline passes through (its own type does not list them): sockets go through the
 * address guard's agent, and redirects are not followed (a 3xx fails the request instead of
 * sending it, credentials and all, to wherever the Location header says).
 */
function pipelineOptions(url: URL, agents: GuardedAgents | undefined, maxTries: number): StoragePipelineOptions {
  return {
    // 3 retries, 1 s → 8 s apart: an unreachable endpoint fails in about 10 s, not minutes.
    retryOptions: { maxTries, retryDelayInMs: 1000, maxRetryDelayInMs: 8000 },
    redirectOptions: { maxRetries: 0 },
    ...(agents && { agent: url.protocol === "http:" ? agents.http : agents.https }),
  } as StoragePipelineOptions;
}

/** Connection string fields (`Key=value;…`), keys lower-cased. */
export function connectionStringFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of text.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return fields;
}

const DEVELOPMENT_STORAGE = "http://127.0.0.1:10000/devstoreaccount1";

/**
 * The blob service URL the SDK talks to for these settings, as the SDK builds it: a connection
 * string's BlobEndpoint, else `<protocol>://<AccountName>.blob.<EndpointSuffix>`; a SAS URL; an
 * endpoint; else the account's public endpoint. The address guard checks this host.
 */
export function azureServiceUrl(c: AzureStorageConfig): URL {
  if (c.connectionString) {
    const f = connectionStringFields(c.connectionString);
    if (f.get("usedevelopmentstorage")?.toLowerCase() === "true") return new URL(DEVELOPMENT_STORAGE);
    const blob = f.get("blobendpoint");
    if (blob) return new URL(blob);
    const protocol = f.get("defaultendpointsprotocol")?.toLowerCase() === "http" ? "http" : "https";
    return new URL(`${protocol}://${f.get("accountname") ?? ""}.blob.${f.get("endpointsuffix") ?? "core.windows.net"}`);
  }
  if (c.sasUrl) return new URL(c.sasUrl);
  return new URL(c.endpoint ?? `https://${c.accountName}.blob.core.windows.net`);
}

/** Azure Blob Storage block blobs through @azure/storage-blob. Storage classes are access tiers. */
export class AzureAdapter implements StorageAdapter {
  readonly kind = "azure" as const;
  private readonly container: ContainerClient;
  /** The same, without its own retries: uploadInParts retries blocks with a fresh body. */
  private readonly staging: ContainerClient;
  private readonly keys: KeySpace;
  private readonly host: string;
  private readonly secrets: (string | undefined)[];
  private readonly limits: PartLimits;

  /** `tuning`: tests only. */
  constructor(
    private readonly config: AzureStorageConfig,
    agents?: GuardedAgents,
    private readonly tuning: UploadTuning = {},
  ) {
    this.keys = new KeySpace(normalizePrefix(config.prefix));
    this.secrets = secretsOf(config);
    this.container = containerClient(config, agents, 4);
    this.staging = containerClient(config, agents, 1);
    this.host = hostPort(this.container.url);
    this.limits = { ...AZURE_LIMITS, ...tuning.limits };
  }

  private fail(err: unknown, key?: string): Error {
    return toStorageError(err, {
      provider: "azure",
      bucket: this.config.container,
      host: this.host,
      key,
      secrets: this.secrets,
    });
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<StoredObject> {
    const { fullKey, storageClass: tier } = putTarget("azure", this.keys, key, body, opts.storageClass);
    const blob = this.container.getBlockBlobClient(fullKey);
    const staging = this.staging.getBlockBlobClient(fullKey);
    const plan = new PartPlan(this.limits, opts.sizeHint);
    const headers = { tier, blobHTTPHeaders: { blobContentType: "application/octet-stream" } };
    return meteredUpload(
      body,
      opts.signal,
      async (source, signal) => {
        // Blocks are staged as they stream; the block list is committed only after the last one,
        // so a broken or cancelled upload never becomes a visible blob (removeLeftovers discards
        // the staged blocks; Azure also does after 7 days).
        const out = await uploadInParts(
          source,
          plan,
          {
            begin: async () => {},
            send: async (number, size, data, partSignal) => {
              const id = blockId(number);
              await staging.stageBlock(id, data, size, { abortSignal: partSignal });
              return id;
            },
          },
          uploadTuning(this.tuning),
          signal,
        );
        if (out.kind === "single") {
          await blob.upload(out.data, out.data.length, { ...headers, abortSignal: signal });
          return;
        }
        // Not tied to the signal: once every block is there, committing is what makes the result definite.
        await blob.commitBlockList(out.results, headers);
        return out.sizes;
      },
      (err) => this.fail(err, key),
    );
  }

  async removeLeftovers(key: string, runId: string): Promise<number> {
    checkRunId(runId);
    const blob = this.container.getBlockBlobClient(this.keys.full(key));
    try {
      let staged: number;
      try {
        staged = (await blob.getBlockList("uncommitted")).uncommittedBlocks?.length ?? 0;
      } catch (err) {
        if (isBlobNotFound(err)) return 0;
        throw err;
      }
      if (staged === 0) return 0;
      // Committing a block list discards every staged block not in it: commit none (only where no
      // blob is stored, whose blocks would otherwise expire after 7 days), then delete that empty blob.
      const { etag } = await blob.commitBlockList([], { conditions: { ifNoneMatch: "*" } });
      await blob.delete({ conditions: { ifMatch: etag } });
      return staged;
    } catch (err) {
      if (errorCode(err) === "BlobAlreadyExists" || errorCode(err) === "ConditionNotMet") return 0;
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
    const blob = this.container.getBlobClient(this.keys.full(key));
    const range = checkRange(opts.range);
    opts.signal?.throwIfAborted();
    try {
      const res = await blob.download(
        range?.start ?? 0,
        range?.end === undefined ? undefined : range.end - range.start + 1,
        {
          abortSignal: opts.signal,
          // A connection that breaks mid-download resumes where it stopped (same ETag only).
          maxRetryRequests: 5,
        },
      );
      if (!res.readableStreamBody)
        throw new AppError("UPSTREAM", `Azure returned no data for object "${key}". Try again.`);
      return guardDownload(res.readableStreamBody as Readable, (err) => this.fail(err, key), opts.signal);
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw this.fail(err, key);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const p = await this.container.getBlobClient(this.keys.full(key)).getProperties();
      return { key, size: p.contentLength ?? 0, storageClass: p.accessTier, lastModified: p.lastModified };
    } catch (err) {
      if (isBlobNotFound(err)) return null;
      throw this.fail(err, key);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.container.getBlobClient(this.keys.full(key)).deleteIfExists({ deleteSnapshots: "include" });
    } catch (err) {
      throw this.fail(err, key);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const full = this.keys.fullListPrefix(prefix);
    const pages = this.container.listBlobsFlat({ prefix: full || undefined }).byPage({ maxPageSize: 1000 });
    while (true) {
      let page;
      try {
        page = await pages.next();
      } catch (err) {
        throw this.fail(err);
      }
      if (page.done) return;
      for (const b of page.value.segment.blobItems) {
        const key = this.keys.relative(b.name);
        if (key === undefined) continue;
        yield {
          key,
          size: b.properties.contentLength ?? 0,
          storageClass: b.properties.accessTier,
          lastModified: b.properties.lastModified,
        };
      }
    }
  }

  async setStorageClass(key: string, storageClass: string): Promise<void> {
    const tier = canonicalStorageClass("azure", storageClass);
    const current = await this.head(key);
    if (!current)
      throw new AppError("NOT_FOUND", `Object "${key}" does not exist in container "${this.config.container}".`);
    if (current.storageClass === tier) return;
    try {
      await this.container.getBlobClient(this.keys.full(key)).setAccessTier(tier);
    } catch (err) {
      throw this.fail(err, key);
    }
  }

  async retrieve(key: string, opts: RetrieveOptions = {}): Promise<Retrieval> {
    const blob = this.container.getBlobClient(this.keys.full(key));
    let props;
    try {
      props = await blob.getProperties();
    } catch (err) {
      if (isBlobNotFound(err))
        throw new AppError("NOT_FOUND", `Object "${key}" does not exist in container "${this.config.container}".`);
      throw this.fail(err, key);
    }
    const tier = props.accessTier;
    const hours = retrievalHours("azure", tier);
    if (!hours) return { state: "ready", ...(tier && { storageClass: tier }) };
    // While a rehydration runs the tier stays Archive and the status says where it is going.
    if (props.archiveStatus?.startsWith("rehydrate-pending")) return { state: "in-progress", storageClass: "Archive" };
    if (opts.request === false) return { state: "archived", storageClass: "Archive" };
    try {
      // Cool rather than Hot: the blob stays out of Archive afterwards (retention may archive it again a
      // week after the request), and Cool costs less to keep.
      await blob.setAccessTier("Cool", { rehydratePriority: "Standard" });
    } catch (err) {
      if (errorCode(err) === "BlobBeingRehydrated") return { state: "in-progress", storageClass: "Archive" };
      throw this.fail(err, key);
    }
    return { state: "requested", storageClass: "Archive", readyBy: new Date(Date.now() + hours * 3_600_000) };
  }
}

/** Block ids: base64 of equal-length strings, as Azure requires within one blob. */
function blockId(number: number): string {
  return Buffer.from(`block-${String(number).padStart(6, "0")}`).toString("base64");
}

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; details?: { errorCode?: unknown } };
  const code = e?.details?.errorCode ?? e?.code;
  return typeof code === "string" ? code : undefined;
}

function isBlobNotFound(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: string; details?: { errorCode?: string } };
  const code = e?.details?.errorCode ?? e?.code;
  return e?.statusCode === 404 && code !== "ContainerNotFound";
}

function secretsOf(c: AzureStorageConfig): (string | undefined)[] {
  const out = [c.accountKey, c.connectionString, c.sasUrl];
  for (const m of (c.connectionString ?? "").matchAll(/(?:AccountKey|SharedAccessSignature)=([^;]+)/gi)) out.push(m[1]);
  for (const text of [c.sasUrl, /SharedAccessSignature=([^;]+)/i.exec(c.connectionString ?? "")?.[1]]) {
    if (!text) continue;
    const query = text.includes("?") ? text.slice(text.indexOf("?") + 1) : text;
    out.push(query);
    for (const [, v] of new URLSearchParams(query)) if (v.length >= 8) out.push(v);
  }
  return out;
}

function invalid(field: string, message: string): AppError {
  return new AppError("VALIDATION", message, { [field]: [message] });
}

function containerClient(c: AzureStorageConfig, agents: GuardedAgents | undefined, maxTries: number): ContainerClient {
  let options: StoragePipelineOptions;
  try {
    options = pipelineOptions(azureServiceUrl(c), agents, maxTries);
  } catch {
    throw invalid(
      c.connectionString ? "connectionString" : c.sasUrl ? "sasUrl" : "endpoint",
      "The Azure endpoint is not a valid URL.",
    );
  }
  if (c.connectionString) {
    let service: BlobServiceClient;
    try {
      service = BlobServiceClient.fromConnectionString(c.connectionString, options);
    } catch {
      throw invalid(
        "connectionString",
        'The Azure connection string is not valid. Copy it again from the storage account\'s "Access keys" page.',
      );
    }
    return service.getContainerClient(c.container);
  }
  if (c.sasUrl) {
    let url: URL;
    try {
      url = new URL(c.sasUrl);
    } catch {
      throw invalid("sasUrl", 'The SAS URL is not a valid URL. Copy the "Blob SAS URL" again from the Azure portal.');
    }
    if (!url.searchParams.has("sig"))
      throw invalid("sasUrl", 'The SAS URL has no signature (sig=…). Copy the complete "Blob SAS URL".');
    // A container SAS URL already names the container; a service SAS URL does not.
    const path = url.pathname.replace(/\/+$/, "");
    if (path.endsWith(`/${c.container}`)) return new ContainerClient(c.sasUrl, undefined, options);
    return new BlobServiceClient(c.sasUrl, undefined, options).getContainerClient(c.container);
  }
  if (c.accountName && c.accountKey) {
    const endpoint = c.endpoint ?? `https://${c.accountName}.blob.core.windows.net`;
    const credential = new StorageSharedKeyCredential(c.accountName, c.accountKey);
    return new BlobServiceClient(endpoint, credential, options).getContainerClient(c.container);
  }
  throw invalid("connectionString", "Give a connection string, an account name and key, or a SAS URL.");
}

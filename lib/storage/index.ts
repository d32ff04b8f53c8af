import "server-only";
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import { Readable } from "node:stream";
import { z } from "zod";
import { AppError, asAppError, type FieldErrors } from "@/lib/errors";
import type { GuardedAgents } from "@/lib/net/guarded-agent";
import { AzureAdapter, azureServiceUrl, connectionStringFields } from "./azure";
import { GcsAdapter } from "./gcs";
import { LocalDiskAdapter } from "./local-disk";
import type { UploadTuning } from "./multipart";
import { S3Adapter, type S3Tuning } from "./s3";
import type { StorageAdapter, StorageConfig, ProbeResult } from "./types";

export * from "./types";

const httpUrl = (what: string) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        const u = new URL(v);
        return (u.protocol === "http:" || u.protocol === "https:") && !u.username && !u.password;
      } catch {
        return false;
      }
    }, `${what} must be an http:// or https:// URL without user name or password.`);

const name = (what: string) =>
  z
    .string()
    .trim()
    .min(1, `Enter the ${what} name.`)
    .max(255, `The ${what} name is too long.`)
    .refine((v) => !/[\s/\\]/.test(v), `The ${what} name cannot contain spaces or slashes.`);

const prefix = z.string().max(512, "The prefix is too long.").optional();
const secret = (what: string) => z.string().min(1, `Enter the ${what}.`);

const localSchema = z.object({
  kind: z.literal("local"),
  root: z
    .string()
    .trim()
    .min(1, "Enter the folder path.")
    .refine((v) => path.isAbsolute(v), "Use an absolute folder path, such as /var/backups/coffer."),
  prefix,
  /** How messages name the folder instead of its path, which members need not learn. */
  label: z.string().optional(),
});

const s3Schema = z.object({
  kind: z.literal("s3"),
  bucket: name("bucket"),
  prefix,
  region: z
    .string()
    .trim()
    .min(1, "Enter the region (for example us-east-1; S3-compatible services often accept any value, such as auto).")
    .regex(/^[a-z0-9-]+$/i, "The region contains letters, digits and dashes only (for example eu-west-1)."),
  endpoint: httpUrl("The endpoint").optional(),
  forcePathStyle: z.boolean().optional(),
  accessKeyId: secret("access key ID"),
  secretAccessKey: secret("secret access key"),
  sessionToken: z.string().optional(),
});

const gcsSchema = z
  .object({
    kind: z.literal("gcs"),
    bucket: name("bucket"),
    prefix,
    credentials: z
      .looseObject({
        type: z
          .literal("service_account", 'Use a service-account key (its JSON has "type": "service_account").')
          .optional(),
        client_email: z.string().min(3, "The key has no client_email: upload the service-account key JSON file."),
        private_key: z.string().includes("PRIVATE KEY", {
          message: "The key has no private_key: upload the service-account key JSON file.",
        }),
        project_id: z.string().optional(),
        private_key_id: z.string().optional(),
      })
      .optional(),
    apiEndpoint: httpUrl("The API endpoint").optional(),
    projectId: z.string().optional(),
  })
  // Without a key the SDK would fall back to the Coffer host's own Google credentials (ADC, the
  // metadata server): anonymous access is only for a custom, non-Google endpoint.
  .refine((c) => c.credentials || (c.apiEndpoint && !isGoogleHost(c.apiEndpoint)), {
    path: ["credentials"],
    message: "Upload the service-account key (JSON).",
  });

function isGoogleHost(url: string): boolean {
  try {
    const host = new URL(url).hostname.toLowerCase().replace(/\.$/, "");
    return host === "googleapis.com" || host.endsWith(".googleapis.com");
  } catch {
    return true;
  }
}

// Azure builds the host from the account name (<account>.blob.core.windows.net): anything but
// the names Azure allows could change the host ("10.0.0.5:8443/x?").
const azureAccountName = /^[a-z0-9]{3,24}$/;
const accountNameMessage =
  "The account name is 3 to 24 lowercase letters and digits: the storage account's name in the Azure portal.";
const hostSuffix = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;

const connectionString = z
  .string()
  .trim()
  .superRefine((text, ctx) => {
    const f = connectionStringFields(text);
    if (f.get("usedevelopmentstorage")?.toLowerCase() === "true") return;
    const account = f.get("accountname");
    if (account !== undefined && !azureAccountName.test(account))
      ctx.addIssue({ code: "custom", message: `In the connection string, AccountName: ${accountNameMessage}` });
    const suffix = f.get("endpointsuffix");
    if (suffix !== undefined && !hostSuffix.test(suffix))
      ctx.addIssue({
        code: "custom",
        message: "In the connection string, EndpointSuffix must be a plain domain such as core.windows.net.",
      });
    const blob = f.get("blobendpoint");
    if (!blob && !account)
      ctx.addIssue({
        code: "custom",
        message: "The connection string names no AccountName or BlobEndpoint. Copy it again from the Azure portal.",
      });
    if (blob && !httpUrl("BlobEndpoint").safeParse(blob).success)
      ctx.addIssue({
        code: "custom",
        message:
          "In the connection string, BlobEndpoint must be an http:// or https:// URL without user name or password.",
      });
  });

const azureSchema = z
  .object({
    kind: z.literal("azure"),
    container: name("container"),
    prefix,
    connectionString: connectionString.optional(),
    accountName: z.string().trim().regex(azureAccountName, accountNameMessage).optional(),
    accountKey: z.string().trim().optional(),
    endpoint: httpUrl("The endpoint").optional(),
    sasUrl: httpUrl("The SAS URL").optional(),
  })
  .refine((c) => c.connectionString || c.sasUrl || (c.accountName && c.accountKey), {
    path: ["connectionString"],
    message: "Give a connection string, an account name and key, or a SAS URL.",
  });

const configSchema = z.discriminatedUnion("kind", [localSchema, s3Schema, gcsSchema, azureSchema]);

/** Validates a destination's settings (AppError VALIDATION with per-field messages). */
export function parseStorageConfig(input: unknown): StorageConfig {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const fieldErrors: FieldErrors = {};
    for (const issue of parsed.error.issues) (fieldErrors[issue.path.join(".") || "kind"] ??= []).push(issue.message);
    const first = parsed.error.issues[0];
    throw new AppError(
      "VALIDATION",
      `Check the storage destination settings: ${first?.message ?? "invalid settings"}`,
      fieldErrors,
    );
  }
  return parsed.data as StorageConfig;
}

/**
 * The adapter for a destination. Validates the settings first; makes no network request. With
 * `agents` (lib/net's guarded agents), every socket of a cloud provider's SDK goes through the
 * address guard. The rest of `options` is for tests: lowered part limits, smaller buffers.
 */
export function createAdapter(
  config: StorageConfig,
  options: UploadTuning & { s3?: S3Tuning; agents?: GuardedAgents } = {},
): StorageAdapter {
  const c = parseStorageConfig(config);
  const { agents, ...tuning } = options;
  switch (c.kind) {
    case "local":
      return new LocalDiskAdapter(c);
    case "s3":
      return new S3Adapter(c, agents, tuning);
    case "gcs":
      return new GcsAdapter(c, agents);
    case "azure":
      return new AzureAdapter(c, agents, tuning);
  }
}

// Azure's own public clouds: hosts there are Microsoft's, never a tenant's choice of address.
const azureClouds = /^[a-z0-9]{3,24}\.blob\.core\.(windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)$/;

/** Hosts a destination makes Coffer connect to other than the providers' own public endpoints. */
export function customEndpointHosts(config: StorageConfig): string[] {
  const urls: string[] = [];
  if (config.kind === "s3" && config.endpoint) urls.push(config.endpoint);
  if (config.kind === "gcs" && config.apiEndpoint) urls.push(config.apiEndpoint);
  if (config.kind === "azure") urls.push(azureServiceUrl(config).toString());
  return urls.map((u) => new URL(u).hostname.replace(/^\[|\]$/g, "")).filter((h) => !azureClouds.test(h));
}

const PROBE_BYTES = 64 * 1024;

/**
 * "Test destination": writes a random probe object under `.coffer-probe/`, reads it back,
 * compares SHA-256, deletes it; writes and deletes a small object in each of `classes` (the
 * storage classes retention will use, named with the tiers that use them). Resolves with the round-trip time or throws the
 * mapped AppError.
 */
export async function probeStorage(
  adapter: StorageAdapter,
  opts: { signal?: AbortSignal; classes?: { storageClass: string; tiers: string }[] } = {},
): Promise<ProbeResult> {
  const key = `.coffer-probe/${randomBytes(12).toString("hex")}`;
  const data = randomBytes(PROBE_BYTES);
  const expected = createHash("sha256").update(data).digest("hex");
  const started = performance.now();
  let written = false;
  const classKeys: string[] = [];
  try {
    const stored = await adapter.put(key, Readable.from([data]), { signal: opts.signal });
    written = true;
    if (stored.size !== data.length || stored.sha256 !== expected) {
      throw new AppError(
        "UPSTREAM",
        "The probe object was not stored intact (size or checksum differs). Check the endpoint: a proxy may be altering data.",
      );
    }
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of await adapter.get(key, { signal: opts.signal })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    if (size !== data.length || hash.digest("hex") !== expected) {
      throw new AppError(
        "UPSTREAM",
        "The probe object read back differs from what was written. Check the endpoint: a proxy or the service may be altering data.",
      );
    }
    // A fresh object per class, written in it as a backup's first copy is: a copy moved from an
    // archive class could fail for another reason.
    for (const [i, { storageClass, tiers }] of (opts.classes ?? []).entries()) {
      const classKey = `${key}-${i}`;
      classKeys.push(classKey);
      await adapter
        .put(classKey, Readable.from([data.subarray(0, 1024)]), { storageClass, signal: opts.signal })
        .catch((err: unknown) => {
          // Adapters answer VALIDATION for a storage class the service does not accept.
          if (asAppError(err)?.code !== "VALIDATION") throw err;
          throw new AppError(
            "UPSTREAM",
            `The storage refused the storage class ${storageClass} (${tiers}): ${asAppError(err)!.message} S3-compatible services often offer fewer classes than AWS (STANDARD alone, for some): choose ones it offers in the destination's settings.`,
          );
        });
      await adapter.delete(classKey);
      classKeys.pop();
    }
    await adapter.delete(key);
    written = false;
    if (await adapter.head(key)) {
      throw new AppError(
        "UPSTREAM",
        "The probe object is still there after deleting it. Check that the credentials may delete objects (and that object lock or versioning rules allow it).",
      );
    }
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } finally {
    if (written) await adapter.delete(key).catch(() => {});
    for (const k of classKeys) await adapter.delete(k).catch(() => {});
  }
}

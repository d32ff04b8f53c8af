import "server-only";
import { AppError } from "@/lib/errors";
import { BROKEN_CODES, facts, type Facts, guardRefusal, isObject, NETWORK_CODES, TLS_CODES } from "./error-facts";
import type { StorageKind } from "./types";

/**
 * Provider errors → AppError with a message that says what to fix. Messages are built from our
 * own templates plus the provider's error *code* and HTTP status; the provider's free text is
 * never copied (SDK errors can carry request headers, signatures and tokens), and every message
 * is scrubbed of the destination's secrets as a second line of defence.
 */

export interface StorageErrorContext {
  provider: StorageKind;
  /** Bucket, container, or root folder. */
  bucket: string;
  /** How messages name a local folder instead of its path (a team's folder inside Coffer's data folder). */
  place?: string;
  /** host:port the adapter talks to, for "cannot reach" messages. */
  host: string;
  /** S3 region the destination is configured with. */
  region?: string;
  /** Object key (relative to the destination prefix), when the operation has one. */
  key?: string;
  /** Values that must never appear in a message. */
  secrets: readonly (string | undefined)[];
}

const PROVIDER: Record<StorageKind, string> = {
  local: "The local disk",
  server: "The server's backup directory",
  s3: "S3",
  gcs: "Google Cloud Storage",
  azure: "Azure Blob Storage",
};

export function isAbortError(err: unknown): boolean {
  return isObject(err) && (err.name === "AbortError" || err.code === "ABORT_ERR");
}

/** Replaces every occurrence of a secret (and its URL-encoded form) with [redacted]. */
export function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join("[redacted]");
  }
  return out;
}

function where(ctx: StorageErrorContext): string {
  if (ctx.provider === "local" || ctx.provider === "server") return `folder "${ctx.bucket}"`;
  return ctx.provider === "azure" ? `container "${ctx.bucket}"` : `bucket "${ctx.bucket}"`;
}

function codeNote(f: Facts): string {
  const code = f.codes.find((c) => /^[A-Za-z][A-Za-z0-9_.-]{1,60}$/.test(c));
  const parts = [code, f.status ? `HTTP ${f.status}` : undefined].filter(Boolean);
  return parts.length ? ` (${parts.join(", ")})` : "";
}

const has = (f: Facts, ...codes: string[]) => codes.some((c) => f.codes.includes(c));

/**
 * Maps an error from a provider SDK or the file system to an AppError. AppErrors and abort
 * errors are returned unchanged (an abort is the caller's own decision, not a failure).
 */
export function toStorageError(err: unknown, ctx: StorageErrorContext): Error {
  if (err instanceof AppError) return new AppError(err.code, scrub(err.message, ctx.secrets), err.fieldErrors);
  if (isAbortError(err)) return err as Error;
  const f = facts(err);
  const refused = guardRefusal(err, f.status);
  if (refused) return new AppError(refused.code, scrub(refused.message, ctx.secrets), refused.fieldErrors);
  const app = (code: ConstructorParameters<typeof AppError>[0], message: string) =>
    new AppError(code, scrub(message, ctx.secrets));
  const provider = PROVIDER[ctx.provider];
  const place = where(ctx);
  const note = codeNote(f);
  const object = ctx.key !== undefined ? `Object "${ctx.key}"` : "The object";

  if (ctx.provider === "local" || ctx.provider === "server") return localError(f, ctx, app);

  // Clock skew first: providers report it as an authentication failure.
  if (
    has(f, "RequestTimeTooSkewed", "RequestExpired") ||
    /request time.*too (large|skewed)|date header too old|clock skew|token used too (early|late)|short-lived token|check your iat and exp|signed expiry time|not valid in the specified time frame/.test(
      f.text,
    )
  ) {
    if (/signed expiry time|not valid in the specified time frame/.test(f.text) && ctx.provider === "azure") {
      return app(
        "UPSTREAM",
        `${provider} refused the SAS token: it has expired or is not valid yet${note}. Generate a new SAS URL, or check the Coffer server's clock.`,
      );
    }
    return app(
      "UPSTREAM",
      `${provider} refused the request because the Coffer server's clock is off${note}. Fix the server clock (enable NTP time synchronisation) and try again.`,
    );
  }

  // Network: nothing answered (a connection that broke later is reported further down).
  const net = f.codes.find((c) => c in NETWORK_CODES);
  if (net && !f.status && !BROKEN_CODES.has(net)) {
    return app(
      "UPSTREAM",
      `Cannot reach ${provider} at ${ctx.host} (${NETWORK_CODES[net]}). Check the endpoint address and port, that the service is running, and that the Coffer server can reach it (firewall, DNS, proxy).`,
    );
  }
  const tls = f.codes.find((c) => TLS_CODES.has(c));
  if (tls && !f.status) {
    return app(
      "UPSTREAM",
      `The TLS connection to ${ctx.host} failed (${tls}). Check that the endpoint uses a valid certificate for its host name, or the http/https scheme.`,
    );
  }

  // Wrong region (S3).
  if (
    has(f, "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException") ||
    (f.status === 301 && ctx.provider === "s3")
  ) {
    const region = f.bucketRegion ?? /expecting '([a-z0-9-]+)'/.exec(f.text)?.[1];
    return app(
      "VALIDATION",
      region
        ? `The ${place} is in region ${region}, but this destination is set to ${ctx.region ?? "another region"}. Change the destination's region to ${region}.`
        : `The ${place} is not in region ${ctx.region ?? "(none)"}. Set the destination's region to the bucket's region (shown in the provider's console).`,
    );
  }

  // Bucket / container missing.
  if (
    has(f, "NoSuchBucket", "ContainerNotFound", "ContainerBeingDeleted") ||
    (ctx.provider === "gcs" && f.status === 404 && /bucket does not exist|no such bucket/.test(f.text))
  ) {
    return app(
      "UPSTREAM",
      `The ${place} does not exist${ctx.provider === "s3" ? ` at ${ctx.host}` : ""}. Create it, or correct the name in the destination settings.`,
    );
  }
  if (has(f, "InvalidBucketName", "InvalidResourceName") || (has(f, "OutOfRangeInput") && ctx.provider === "azure")) {
    return app(
      "VALIDATION",
      `"${ctx.bucket}" is not a valid ${ctx.provider === "azure" ? "container" : "bucket"} name${note}. Check the name in the destination settings.`,
    );
  }

  // Credentials.
  if (has(f, "InvalidAccessKeyId")) {
    return app(
      "UPSTREAM",
      `${provider} does not recognise the access key ID${note}. Check the access key ID, and that the key is active.`,
    );
  }
  if (has(f, "SignatureDoesNotMatch")) {
    return app(
      "UPSTREAM",
      `${provider} rejected the secret access key for this access key ID${note}. Re-enter the secret access key.`,
    );
  }
  if (has(f, "ExpiredToken", "TokenRefreshRequired", "InvalidToken")) {
    return app(
      "UPSTREAM",
      `${provider} rejected the session token: it is invalid or has expired${note}. Provide fresh credentials.`,
    );
  }
  if (
    ctx.provider === "gcs" &&
    (/invalid_grant|invalid jwt|invalid credentials|private key|decoder routines|pem routines|no start line|could not load the default credentials/.test(
      f.text,
    ) ||
      has(f, "ERR_OSSL_UNSUPPORTED", "ERR_OSSL_PEM_NO_START_LINE", "authError") ||
      f.status === 401)
  ) {
    return app(
      "UPSTREAM",
      `Google Cloud Storage rejected the service-account key${note}. Upload a current key file (JSON) for the service account: the key may have been deleted, rotated or mistyped.`,
    );
  }
  if (
    ctx.provider === "azure" &&
    (has(
      f,
      "AuthenticationFailed",
      "InvalidAuthenticationInfo",
      "AuthorizationFailure",
      "NoAuthenticationInformation",
    ) ||
      f.status === 401)
  ) {
    return app(
      "UPSTREAM",
      `Azure Blob Storage rejected the credentials${note}. Check the account name and key (or that the SAS token is complete, unexpired and grants read, write, delete and list), and that the storage account's firewall allows the Coffer server.`,
    );
  }
  if (f.status === 401) {
    return app("UPSTREAM", `${provider} rejected the credentials${note}. Check the access key and secret.`);
  }

  // Archived objects (S3 answers 403, so before permissions).
  if (
    has(f, "InvalidObjectState", "BlobArchived") ||
    (ctx.provider === "azure" && /archive/.test(f.text) && f.status === 409)
  ) {
    return app(
      "CONFLICT",
      `${object} is in archive storage and must be restored (rehydrated) before it can be read or re-tiered.`,
    );
  }

  // Permissions.
  if (
    has(
      f,
      "AccessDenied",
      "AllAccessDisabled",
      "AuthorizationPermissionMismatch",
      "AuthorizationResourceTypeMismatch",
      "InsufficientAccountPermissions",
      "AccountIsDisabled",
      "forbidden",
    ) ||
    f.status === 403
  ) {
    const needs: Record<StorageKind, string> = {
      local: "",
      server: "",
      s3: "s3:PutObject, s3:GetObject, s3:DeleteObject, s3:RestoreObject, s3:AbortMultipartUpload, s3:ListBucket and s3:ListBucketMultipartUploads on the bucket (and its objects)",
      gcs: "the Storage Object Admin role (roles/storage.objectAdmin) on the bucket",
      azure: "read, write, delete and list on the container (e.g. the Storage Blob Data Contributor role)",
    };
    return app("UPSTREAM", `Access denied to the ${place}${note}. Give these credentials ${needs[ctx.provider]}.`);
  }

  // Object-level states.
  if (has(f, "NoSuchKey", "BlobNotFound", "NotFound", "notFound") || f.status === 404) {
    return app("NOT_FOUND", `${object} does not exist in the ${place}.`);
  }
  if (
    has(f, "InvalidStorageClass") ||
    (ctx.provider === "azure" && has(f, "InvalidHeaderValue") && /tier/.test(f.text))
  ) {
    return app("VALIDATION", `${provider} does not accept this storage class for the ${place}${note}.`);
  }
  if (has(f, "InvalidRange") || f.status === 416) {
    return app("VALIDATION", `The requested byte range is outside ${object.toLowerCase()}.`);
  }
  if (
    has(
      f,
      "BadDigest",
      "Md5Mismatch",
      "Crc64Mismatch",
      "FILE_NO_UPLOAD",
      "CONTENT_DOWNLOAD_MISMATCH",
      "XAmzContentSHA256Mismatch",
      "InvalidDigest",
    ) ||
    /checksum mismatch|did not match the data from the server/.test(f.text)
  ) {
    return app("UPSTREAM", `Data was corrupted in transit to or from ${provider}${note}; nothing was kept. Try again.`);
  }
  if (
    has(f, "TooManyParts", "EntityTooSmall", "InvalidPart", "BlockListTooLong", "BlockCountExceedsLimit") ||
    (has(f, "InvalidArgument") && /part number/.test(f.text))
  ) {
    return app(
      "UPSTREAM",
      `${provider} refused the parts of the upload${note}: this service limits the number or size of parts more tightly than Coffer assumed for it. Nothing was kept; report this along with the service's name.`,
    );
  }
  if (has(f, "QuotaExceeded", "AccountLimitExceeded", "EntityTooLarge")) {
    return app(
      "UPSTREAM",
      `${provider} refused the upload: a quota or size limit was reached${note}. Free space or raise the limit.`,
    );
  }
  if (
    has(f, "SlowDown", "ServerBusy", "TooManyRequests", "rateLimitExceeded") ||
    f.status === 429 ||
    f.status === 503
  ) {
    return app("UPSTREAM", `${provider} is throttling requests${note}. Try again in a few minutes.`);
  }
  if (f.status && f.status >= 500) {
    return app("UPSTREAM", `${provider} had an internal error${note}. Try again later.`);
  }
  if (net) {
    return app("UPSTREAM", `The connection to ${provider} at ${ctx.host} broke (${NETWORK_CODES[net]}). Try again.`);
  }
  return app("UPSTREAM", `${provider} request failed${note}. Check the destination settings and try again.`);
}

const upper = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function localError(
  f: Facts,
  ctx: StorageErrorContext,
  app: (code: "UPSTREAM" | "NOT_FOUND" | "VALIDATION", m: string) => AppError,
): AppError {
  const folder = ctx.place ?? `the folder "${ctx.bucket}"`;
  if (has(f, "EACCES", "EPERM"))
    return app(
      "UPSTREAM",
      `Coffer may not write or read in ${folder} (permission denied). Make it readable and writable by the user Coffer runs as.`,
    );
  if (has(f, "ENOSPC", "EDQUOT"))
    return app("UPSTREAM", `The disk holding ${folder} is full (or over quota). Free space, or choose another folder.`);
  if (has(f, "EROFS"))
    return app("UPSTREAM", `${upper(folder)} is on a read-only file system. Choose a writable folder.`);
  if (has(f, "ENOTDIR", "EISDIR"))
    return app(
      "UPSTREAM",
      `A path under ${folder} is a file where a folder is expected (or the reverse)${ctx.key ? ` for "${ctx.key}"` : ""}.`,
    );
  if (has(f, "ENAMETOOLONG"))
    return app("VALIDATION", `The object path is too long for the file system under ${folder}.`);
  if (has(f, "EIO"))
    return app("UPSTREAM", `The disk holding ${folder} reported an I/O error. Check the disk's health.`);
  if (has(f, "ENOENT"))
    return app(
      "NOT_FOUND",
      `${ctx.key !== undefined ? `Object "${ctx.key}"` : "The object"} does not exist in ${folder}.`,
    );
  return app("UPSTREAM", `Local disk operation failed in ${folder}${codeNote(f)}.`);
}

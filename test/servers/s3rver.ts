import { spawn, type ChildProcess } from "node:child_process";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { createReadStream, mkdtempSync } from "node:fs";
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import { freePort, stopProcess } from "../ports";

/**
 * s3rver in a child process (its winston logger hooks process-wide exception
 * handlers, and a separate process keeps its memory out of our RSS figures),
 * with two things s3rver lacks added as a Koa middleware:
 * - SigV4 signature verification (s3rver only checks the access key id for V4),
 *   so a wrong secret key is refused with SignatureDoesNotMatch like on S3;
 * - CopyObject onto itself that only changes the storage class, UploadPartCopy,
 *   AbortMultipartUpload and ListMultipartUploads, which S3 supports and s3rver refuses;
 * - S3's multipart rules, which s3rver does not check: part numbers 1 to 10,000 (or to `maxParts`,
 *   a lower limit for tests of large objects), and every part but the last at least 5 MiB
 *   (EntityTooSmall);
 * - the real StorageClass in listings (s3rver always says STANDARD), and `Range: bytes=0-0`
 *   (s3rver reads an end of 0 as "to the end");
 * - RestoreObject (`POST /bucket/key?restore`, which s3rver answers NotImplemented) for GLACIER and
 *   DEEP_ARCHIVE objects, with S3's answers (202 started, 409 RestoreAlreadyInProgress, 200
 *   already restored, 403 InvalidObjectState for other classes) and the `x-amz-restore` header
 *   on HEAD and GET (`ongoing-request="true"`, then `ongoing-request="false", expiry-date="…"`).
 *   A restore never finishes by itself: `finishRestores()` plays the hours S3 takes.
 *   With `refuseArchivedReads`, GET of an archived object without a finished restore is refused
 *   with 403 InvalidObjectState, as S3 does (off by default: other tests read objects they moved
 *   to GLACIER directly).
 */

export const S3RVER_ACCESS_KEY_ID = "S3RVER";
export const S3RVER_SECRET_ACCESS_KEY = "S3RVER";

export interface S3rverServer {
  /** e.g. http://127.0.0.1:41234 — use with forcePathStyle */
  endpoint: string;
  port: number;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Finishes every restore in progress (what S3 does hours after RestoreObject); resolves with how many. */
  finishRestores(): Promise<number>;
  stop(): Promise<void>;
}

const CHILD_FLAG = "--coffer-s3rver-child";
const thisFile = fileURLToPath(import.meta.url);

export async function startS3rver(
  opts: { bucket?: string; refuseArchivedReads?: boolean; maxParts?: number } = {},
): Promise<S3rverServer> {
  const dir = mkdtempSync(path.join(tmpdir(), "coffer-s3rver-"));
  const port = await freePort();
  const bucket = opts.bucket ?? "coffer-test-bucket";
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  const child: ChildProcess = spawn(
    process.execPath,
    [
      "--import",
      tsx,
      thisFile,
      CHILD_FLAG,
      dir,
      String(port),
      bucket,
      opts.refuseArchivedReads ? "refuse" : "allow",
      String(opts.maxParts ?? 10_000),
    ],
    {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    },
  );
  child.channel?.unref();
  let log = "";
  child.stderr?.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));

  const stop = () => stopProcess(child, dir);

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`s3rver did not start within 30 s: ${log}`)), 30_000);
      let out = "";
      child.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited (${code}): ${log}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    region: "us-east-1",
    bucket,
    accessKeyId: S3RVER_ACCESS_KEY_ID,
    secretAccessKey: S3RVER_SECRET_ACCESS_KEY,
    finishRestores: () =>
      new Promise<number>((resolve, reject) => {
        const onMessage = (m: { type?: string; finished?: number }) => {
          if (m?.type !== "restores-finished") return;
          child.off("message", onMessage);
          resolve(m.finished ?? 0);
        };
        child.on("message", onMessage);
        child.send({ type: "finish-restores" }, (err) => err && reject(err));
      }),
    stop,
  };
}

// ---------------------------------------------------------------------------------------------
// Child process side

interface KoaContext {
  method: string;
  req: { url?: string; headers: Record<string, string | string[] | undefined> };
  get(name: string): string;
  status: number;
  type: string;
  body: unknown;
  set(name: string, value: string): void;
  store: S3rverStore;
}
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
interface S3rverStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  getMetadata(bucket: string, key: string): Promise<Record<string, string | number>>;
  putMetadata(bucket: string, key: string, metadata: Record<string, string | number>): Promise<void>;
  getObject(
    bucket: string,
    key: string,
    range?: { start?: number; end?: number },
  ): Promise<{ content: Readable | null; range?: { start: number; end: number } } | null>;
  putPart(
    bucket: string,
    uploadId: string,
    partNumber: number,
    content: Readable,
  ): Promise<{ size: number; md5: string }>;
  putObjectMultipart(
    bucket: string,
    uploadId: string,
    parts: { number: number; etag: string }[],
  ): Promise<{ md5: string; size: number }>;
}
interface S3rverInstance {
  store: S3rverStore;
  middleware: Middleware[];
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverCtor = new (options: Record<string, unknown>) => S3rverInstance;

const STORAGE_CLASSES = [
  "STANDARD",
  "REDUCED_REDUNDANCY",
  "STANDARD_IA",
  "ONEZONE_IA",
  "INTELLIGENT_TIERING",
  "GLACIER",
  "DEEP_ARCHIVE",
  "OUTPOSTS",
];

function xmlEscape(s: string) {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fail(ctx: KoaContext, status: number, code: string, message: string) {
  ctx.status = status;
  ctx.type = "application/xml";
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error>`;
}

const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function splitUrl(url: string): { rawPath: string; rawQuery: string } {
  const i = url.indexOf("?");
  return i < 0 ? { rawPath: url, rawQuery: "" } : { rawPath: url.slice(0, i), rawQuery: url.slice(i + 1) };
}

function canonicalQuery(rawQuery: string) {
  return rawQuery
    .split("&")
    .filter(Boolean)
    .map((p) => {
      const i = p.indexOf("=");
      const k = decodeURIComponent((i < 0 ? p : p.slice(0, i)).replace(/\+/g, "%20"));
      const v = i < 0 ? "" : decodeURIComponent(p.slice(i + 1).replace(/\+/g, "%20"));
      return [rfc3986(k), rfc3986(v)] as const;
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();

/** Verifies AWS Signature Version 4 (Authorization header form) with the fixed test secret. */
const verifySigV4: Middleware = async (ctx, next) => {
  const auth = ctx.get("authorization");
  if (!auth.startsWith("AWS4-HMAC-SHA256 ")) return next();
  const m =
    /Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})/.exec(
      auth,
    );
  if (!m) return fail(ctx, 400, "AuthorizationHeaderMalformed", "The authorization header is malformed.");
  const [, accessKeyId, date, region, service, signedHeaders, signature] = m as unknown as string[] as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (accessKeyId !== S3RVER_ACCESS_KEY_ID) {
    return fail(ctx, 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
  }
  const amzDate = ctx.get("x-amz-date");
  const t = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!t) return fail(ctx, 403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header");
  const when = Date.UTC(Number(t[1]), Number(t[2]) - 1, Number(t[3]), Number(t[4]), Number(t[5]), Number(t[6]));
  if (Math.abs(when - Date.now()) > 15 * 60_000) {
    return fail(
      ctx,
      403,
      "RequestTimeTooSkewed",
      "The difference between the request time and the current time is too large.",
    );
  }
  const { rawPath, rawQuery } = splitUrl(ctx.req.url ?? "/");
  const headerNames = signedHeaders.split(";");
  const canonicalHeaders = headerNames
    .map((h) => {
      const v = ctx.req.headers[h];
      return `${h}:${(Array.isArray(v) ? v.join(",") : (v ?? "")).trim().replace(/\s+/g, " ")}\n`;
    })
    .join("");
  const payloadHash = ctx.get("x-amz-content-sha256") || "UNSIGNED-PAYLOAD";
  const canonicalRequest = [
    ctx.method,
    rawPath,
    canonicalQuery(rawQuery),
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    amzDate,
    scope,
    createHash("sha256").update(canonicalRequest).digest("hex"),
  ].join("\n");
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${S3RVER_SECRET_ACCESS_KEY}`, date), region), service), "aws4_request");
  const expected = createHmac("sha256", signingKey).update(stringToSign).digest();
  if (!timingSafeEqual(expected, Buffer.from(signature, "hex"))) {
    return fail(
      ctx,
      403,
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    );
  }
  return next();
};

function bucketAndKey(rawPath: string): { bucket: string; key: string } {
  const [bucket = "", ...rest] = rawPath.replace(/^\//, "").split("/");
  return { bucket: decodeURIComponent(bucket), key: rest.map(decodeURIComponent).join("/") };
}

function copySource(ctx: KoaContext): { bucket: string; key: string } {
  const raw = decodeURIComponent(ctx.get("x-amz-copy-source").split("?")[0] ?? "").replace(/^\//, "");
  const [bucket = "", ...rest] = raw.split("/");
  return { bucket, key: rest.join("/") };
}

/** ListMultipartUploads: every upload s3rver keeps (`uploads/<id>/key`) whose key starts with the prefix. */
async function listUploads(ctx: KoaContext, bucket: string, prefix: string) {
  const dir = ctx.store.getResourcePath(bucket, undefined, "uploads");
  const ids = await readdir(dir).catch(() => [] as string[]);
  const uploads: string[] = [];
  for (const id of ids.sort()) {
    const key = await readFile(path.join(dir, id, "key"), "utf8").catch(() => undefined);
    if (key === undefined || !key.startsWith(prefix)) continue;
    const initiated = (await stat(path.join(dir, id))).birthtime.toISOString();
    uploads.push(
      `<Upload><Key>${xmlEscape(key)}</Key><UploadId>${id}</UploadId><Initiated>${initiated}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`,
    );
  }
  ctx.type = "application/xml";
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult><Bucket>${xmlEscape(bucket)}</Bucket><Prefix>${xmlEscape(prefix)}</Prefix><IsTruncated>false</IsTruncated>${uploads.join("")}</ListMultipartUploadsResult>`;
}

/** CopyObject onto itself changing only the storage class, UploadPartCopy, AbortMultipartUpload, ListMultipartUploads. */
const extensions: Middleware = async (ctx, next) => {
  const { rawPath, rawQuery } = splitUrl(ctx.req.url ?? "/");
  const query = new URLSearchParams(rawQuery);
  if (ctx.method === "GET" && query.has("uploads")) {
    const { bucket, key } = bucketAndKey(rawPath);
    if (!key) return listUploads(ctx, bucket, query.get("prefix") ?? "");
  }
  if (ctx.method === "DELETE" && query.has("uploadId")) {
    const { bucket } = bucketAndKey(rawPath);
    const uploadId = query.get("uploadId") ?? "";
    if (!/^[0-9a-f]+$/.test(uploadId)) return fail(ctx, 404, "NoSuchUpload", "The specified upload does not exist.");
    await rm(path.join(ctx.store.getResourcePath(bucket, undefined, "uploads"), uploadId), {
      recursive: true,
      force: true,
    });
    ctx.status = 204;
    ctx.body = "";
    return;
  }
  if (ctx.method !== "PUT" || !ctx.get("x-amz-copy-source")) return next();
  const dest = bucketAndKey(rawPath);
  const src = copySource(ctx);

  if (query.has("uploadId") && query.has("partNumber")) {
    const range = /^bytes=(\d+)-(\d+)$/.exec(ctx.get("x-amz-copy-source-range"));
    let meta: Record<string, string | number>;
    try {
      meta = await ctx.store.getMetadata(src.bucket, src.key);
    } catch {
      return fail(ctx, 404, "NoSuchKey", "The specified key does not exist.");
    }
    const size = Number(meta["content-length"]);
    const start = range ? Number(range[1]) : 0;
    const end = range ? Number(range[2]) : size - 1;
    if (start > end || end >= size) return fail(ctx, 416, "InvalidRange", "The requested range is not satisfiable");
    const ifMatch = ctx.get("x-amz-copy-source-if-match");
    if (ifMatch && ifMatch.replace(/"/g, "") !== String(meta.etag).replace(/"/g, "")) {
      return fail(ctx, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold");
    }
    const obj = await ctx.store.getObject(src.bucket, src.key, { start, end });
    if (!obj?.content) return fail(ctx, 404, "NoSuchKey", "The specified key does not exist.");
    const { md5 } = await ctx.store.putPart(
      dest.bucket,
      query.get("uploadId") ?? "",
      Number(query.get("partNumber")),
      obj.content,
    );
    ctx.type = "application/xml";
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<CopyPartResult><LastModified>${new Date().toISOString()}</LastModified><ETag>"${md5}"</ETag></CopyPartResult>`;
    return;
  }

  const storageClass = ctx.get("x-amz-storage-class");
  const sameObject = src.bucket === dest.bucket && src.key === dest.key;
  if (!sameObject || !storageClass || ctx.get("x-amz-metadata-directive") === "REPLACE") return next();
  if (!STORAGE_CLASSES.includes(storageClass))
    return fail(ctx, 400, "InvalidStorageClass", "The storage class you specified is not valid");
  let meta: Record<string, string | number>;
  try {
    meta = await ctx.store.getMetadata(src.bucket, src.key);
  } catch {
    return next(); // let s3rver answer NoSuchBucket / NoSuchKey
  }
  await ctx.store.putMetadata(src.bucket, src.key, { ...meta, "x-amz-storage-class": storageClass });
  ctx.type = "application/xml";
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<CopyObjectResult><LastModified>${new Date().toISOString()}</LastModified><ETag>${xmlEscape(String(meta.etag))}</ETag></CopyObjectResult>`;
};

/** Runs after s3rver's controllers, before its XML encoder: put the real class into listings. */
const listStorageClass: Middleware = async (ctx, next) => {
  await next();
  const body = ctx.body as { ListBucketResult?: { Contents?: { Key: string; StorageClass?: string }[] } } | undefined;
  const contents = body?.ListBucketResult?.Contents;
  if (ctx.method !== "GET" || !Array.isArray(contents)) return;
  const { bucket } = bucketAndKey(splitUrl(ctx.req.url ?? "/").rawPath);
  for (const c of contents) {
    const meta = await ctx.store.getMetadata(bucket, c.Key).catch(() => undefined);
    c.StorageClass = String(meta?.["x-amz-storage-class"] ?? "STANDARD");
  }
};

const ARCHIVE_CLASSES = ["GLACIER", "DEEP_ARCHIVE"];

/** Restores by "bucket/key": running, or done and readable until `expiry`. Kept in memory, like the restored copies S3 keeps aside. */
const restores = new Map<string, { ongoing: boolean; days: number; expiry?: Date }>();

function restoreHeader(r: { ongoing: boolean; expiry?: Date }): string {
  return r.ongoing ? 'ongoing-request="true"' : `ongoing-request="false", expiry-date="${r.expiry!.toUTCString()}"`;
}

function readBody(ctx: KoaContext): Promise<string> {
  const req = ctx.req as unknown as NodeJS.ReadableStream;
  return new Promise((resolve, reject) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString("utf8")));
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

/** RestoreObject, the x-amz-restore header, and (optionally) S3's refusal to read archived objects. */
const archive =
  (refuseArchivedReads: boolean): Middleware =>
  async (ctx, next) => {
    const { rawPath, rawQuery } = splitUrl(ctx.req.url ?? "/");
    const { bucket, key } = bucketAndKey(rawPath);
    if (!key) return next();
    const id = `${bucket}/${key}`;
    const query = new URLSearchParams(rawQuery);
    const live = () => {
      const r = restores.get(id);
      if (r && !r.ongoing && r.expiry! <= new Date()) restores.delete(id);
      return restores.get(id);
    };
    if (ctx.method === "POST" && query.has("restore")) {
      const body = await readBody(ctx);
      let meta: Record<string, string | number>;
      try {
        meta = await ctx.store.getMetadata(bucket, key);
      } catch {
        return fail(ctx, 404, "NoSuchKey", "The specified key does not exist.");
      }
      if (!ARCHIVE_CLASSES.includes(String(meta["x-amz-storage-class"] ?? "STANDARD"))) {
        return fail(ctx, 403, "InvalidObjectState", "Restore is not allowed for the object's current storage class");
      }
      const days = Number(/<Days>(\d+)<\/Days>/.exec(body)?.[1] ?? 1);
      const r = live();
      if (r?.ongoing) return fail(ctx, 409, "RestoreAlreadyInProgress", "Object restore is already in progress");
      ctx.body = "";
      if (r) {
        r.expiry = new Date(Date.now() + days * 86_400_000);
        ctx.status = 200;
        return;
      }
      restores.set(id, { ongoing: true, days });
      ctx.status = 202;
      return;
    }
    // The AWS SDK adds x-id=GetObject; other query parameters are other operations (?tagging, ?acl, ?uploadId…).
    if (
      (ctx.method === "GET" || ctx.method === "HEAD") &&
      [...query.keys()].every((k) => k === "x-id" || k === "versionId" || k.startsWith("response-"))
    ) {
      const r = live();
      if (refuseArchivedReads && ctx.method === "GET" && !(r && !r.ongoing)) {
        const meta = await ctx.store.getMetadata(bucket, key).catch(() => undefined);
        if (meta && ARCHIVE_CLASSES.includes(String(meta["x-amz-storage-class"]))) {
          return fail(ctx, 403, "InvalidObjectState", "The operation is not valid for the object's storage class");
        }
      }
      await next();
      if (r && ctx.status >= 200 && ctx.status < 300) ctx.set("x-amz-restore", restoreHeader(r));
      return;
    }
    await next();
    // A new object (or none) under the key: S3 drops the restored copy with the old one.
    if (
      (ctx.method === "PUT" && !query.has("partNumber")) ||
      (ctx.method === "DELETE" && !query.has("uploadId")) ||
      (ctx.method === "POST" && query.has("uploadId"))
    ) {
      restores.delete(id);
    }
  };

type S3ErrorCtor = new (code: string, message: string) => Error;

/** S3's multipart rules on s3rver's store: part numbers up to `maxParts`, parts but the last at least 5 MiB. */
function multipartRules(store: S3rverStore, maxParts: number, S3Error: S3ErrorCtor) {
  const putPart = store.putPart.bind(store);
  store.putPart = async (bucket, uploadId, partNumber, content) => {
    if (!(Number(partNumber) >= 1 && Number(partNumber) <= maxParts))
      throw new S3Error("InvalidArgument", `Part number must be an integer between 1 and ${maxParts}, inclusive`);
    return putPart(bucket, uploadId, partNumber, content);
  };
  const complete = store.putObjectMultipart.bind(store);
  store.putObjectMultipart = async (bucket, uploadId, parts) => {
    const dir = path.join(store.getResourcePath(bucket, undefined, "uploads"), uploadId);
    const sorted = [...parts].sort((a, b) => a.number - b.number);
    for (const part of sorted.slice(0, -1)) {
      const size = (await stat(path.join(dir, String(part.number))).catch(() => undefined))?.size ?? 0;
      if (size < 5 * 1024 * 1024)
        throw new S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.");
    }
    return complete(bucket, uploadId, parts);
  };
}

async function serveChild(dir: string, port: number, bucket: string, refuseArchivedReads: boolean, maxParts: number) {
  const require = createRequire(import.meta.url);
  const S3rver = require("s3rver") as S3rverCtor;
  const S3Error = require("s3rver/lib/models/error") as S3ErrorCtor;
  const server = new S3rver({
    port,
    address: "127.0.0.1",
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket }],
  });
  // s3rver's chain: logger, XML encoder, mount interop, vhost, router.
  server.middleware.splice(2, 0, listStorageClass);
  server.middleware.splice(1, 0, verifySigV4, extensions, archive(refuseArchivedReads));
  multipartRules(server.store, maxParts, S3Error);
  // s3rver reads `end: 0` as "to the end": serve bytes=0-0 (and N-0, which is invalid anyway) right.
  const getObject = server.store.getObject.bind(server.store);
  server.store.getObject = async (b, k, range) => {
    if (range?.end !== 0) return getObject(b, k, range);
    const object = await getObject(b, k, { start: 0, end: 1 });
    if (object?.content) {
      object.content.destroy();
      object.content = createReadStream(server.store.getResourcePath(b, k, "object"), { start: 0, end: 0 });
      object.range = { start: 0, end: 0 };
    }
    return object;
  };
  await server.run();
  process.on("message", (m: { type?: string }) => {
    if (m?.type !== "finish-restores") return;
    let finished = 0;
    for (const r of restores.values()) {
      if (!r.ongoing) continue;
      r.ongoing = false;
      r.expiry = new Date(Date.now() + r.days * 86_400_000);
      finished++;
    }
    process.send?.({ type: "restores-finished", finished });
  });
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  const shutdown = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
  // If the parent dies, do not linger.
  const parent = process.ppid;
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      shutdown();
    }
  }, 2000).unref();
}

if (process.argv[2] === CHILD_FLAG && path.resolve(process.argv[1] ?? "") === thisFile) {
  const [, , , dir = "", port = "0", bucket = "", archivedReads = "allow", maxParts = "10000"] = process.argv;
  serveChild(dir, Number(port), bucket, archivedReads === "refuse", Number(maxParts)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}

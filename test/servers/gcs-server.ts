import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createHash, generateKeyPairSync, randomBytes, verify, type Hash, type KeyObject } from "node:crypto";
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { copyFile, mkdir, rename, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CRC32C } from "@google-cloud/storage";
import { freePort } from "../ports";

/**
 * A small server speaking the part of the Google Cloud Storage JSON API that
 * `@google-cloud/storage` v7 uses: resumable uploads, media download with Range,
 * object metadata, delete, list, rewrite (storage class). Objects live on disk.
 *
 * Authentication: the server hands out a service-account JSON whose
 * `universe_domain` is not googleapis.com, so google-auth-library signs a JWT
 * locally (no token exchange, no network) and sends it as a Bearer token; the
 * server checks its RS256 signature against the account's public key. Session
 * URIs (PUT/DELETE with `upload_id`) need no token, as on GCS.
 */

export type GcsServiceAccountJson = {
  type: "service_account";
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  token_uri: string;
  universe_domain: string;
};

export interface GcsServer {
  /** Pass as `apiEndpoint` to `new Storage(...)`, e.g. http://127.0.0.1:41234 */
  apiEndpoint: string;
  /** Same as apiEndpoint. */
  endpoint: string;
  port: number;
  projectId: string;
  /** The bucket created at start. */
  bucket: string;
  /** Service-account JSON the server accepts. */
  credentials: GcsServiceAccountJson;
  /** Same account name, another private key: every request is refused with 401. */
  wrongCredentials(): GcsServiceAccountJson;
  createBucket(name: string): void;
  stop(): Promise<void>;
}

interface StoredObject {
  name: string;
  bucket: string;
  file: string;
  size: number;
  generation: string;
  metageneration: number;
  contentType: string;
  storageClass: string;
  crc32c: string;
  md5Hash: string;
  timeCreated: string;
  updated: string;
  timeStorageClassUpdated: string;
  metadata?: Record<string, string>;
}

interface UploadSession {
  id: string;
  bucket: string;
  name: string;
  file: string;
  received: number;
  crc: CRC32C;
  md5: Hash;
  contentType: string;
  storageClass?: string;
  metadata?: Record<string, string>;
  done?: StoredObject;
  busy: boolean;
}

const UNIVERSE = "coffer-gcs.test";
const PROJECT = "coffer-test";

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

export async function startGcsServer(opts: { bucket?: string } = {}): Promise<GcsServer> {
  const dir = mkdtempSync(path.join(tmpdir(), "coffer-gcs-"));
  await mkdir(path.join(dir, "objects"));
  await mkdir(path.join(dir, "uploads"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const bucketName = opts.bucket ?? "coffer-test-bucket";
  const buckets = new Map<string, Map<string, StoredObject>>([[bucketName, new Map()]]);
  const sessions = new Map<string, UploadSession>();
  let generationCounter = 0;

  const clientEmail = `coffer-test@${PROJECT}.iam.gserviceaccount.com`;
  const account = serviceAccount(clientEmail);
  const trustedKey = account.publicKey;

  function authorize(req: IncomingMessage) {
    const header = req.headers.authorization;
    if (!header)
      throw new HttpError(
        401,
        "Anonymous caller does not have storage.objects.get access to the Google Cloud Storage object.",
        "required",
      );
    const m = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(header);
    if (!m) throw new HttpError(401, "Invalid Credentials", "authError");
    const [, h, p, s] = m as unknown as [string, string, string, string];
    const ok = verify("RSA-SHA256", Buffer.from(`${h}.${p}`), trustedKey, Buffer.from(s, "base64url"));
    let claims: { iss?: string; exp?: number } = {};
    try {
      claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as typeof claims;
    } catch {
      /* refused below */
    }
    if (
      !ok ||
      claims.iss !== clientEmail ||
      typeof claims.exp !== "number" ||
      claims.exp * 1000 < Date.now() - 60_000
    ) {
      throw new HttpError(401, "Invalid Credentials", "authError");
    }
  }

  function bucketOrThrow(name: string) {
    const b = buckets.get(name);
    if (!b) throw new HttpError(404, "The specified bucket does not exist.", "notFound");
    return b;
  }

  function objectOrThrow(bucket: string, name: string) {
    const o = bucketOrThrow(bucket).get(name);
    if (!o) throw new HttpError(404, `No such object: ${bucket}/${name}`, "notFound");
    return o;
  }

  function resource(o: StoredObject) {
    const enc = encodeURIComponent(o.name);
    return {
      kind: "storage#object",
      id: `${o.bucket}/${o.name}/${o.generation}`,
      selfLink: `${base}/storage/v1/b/${o.bucket}/o/${enc}`,
      mediaLink: `${base}/download/storage/v1/b/${o.bucket}/o/${enc}?generation=${o.generation}&alt=media`,
      name: o.name,
      bucket: o.bucket,
      generation: o.generation,
      metageneration: String(o.metageneration),
      contentType: o.contentType,
      storageClass: o.storageClass,
      size: String(o.size),
      md5Hash: o.md5Hash,
      crc32c: o.crc32c,
      etag: Buffer.from(`${o.generation}/${o.metageneration}`).toString("base64"),
      timeCreated: o.timeCreated,
      updated: o.updated,
      timeStorageClassUpdated: o.timeStorageClassUpdated,
      ...(o.metadata ? { metadata: o.metadata } : {}),
    };
  }

  async function replaceObject(o: StoredObject) {
    const b = bucketOrThrow(o.bucket);
    const old = b.get(o.name);
    b.set(o.name, o);
    if (old && old.file !== o.file) await unlink(old.file).catch(() => {});
  }

  function newGeneration() {
    return String(Date.now() * 1000 + (generationCounter++ % 1000));
  }

  async function finalize(s: UploadSession, req: IncomingMessage) {
    const crc32c = s.crc.toString();
    const md5Hash = s.md5.digest("base64");
    const claimed = parseGoogHash(req.headers["x-goog-hash"]);
    if ((claimed.crc32c && claimed.crc32c !== crc32c) || (claimed.md5 && claimed.md5 !== md5Hash)) {
      sessions.delete(s.id);
      await unlink(s.file).catch(() => {});
      throw new HttpError(400, "Provided checksum does not match the uploaded content.", "invalid");
    }
    const now = new Date().toISOString();
    const file = path.join(dir, "objects", randomBytes(12).toString("hex"));
    await rename(s.file, file);
    const o: StoredObject = {
      name: s.name,
      bucket: s.bucket,
      file,
      size: s.received,
      generation: newGeneration(),
      metageneration: 1,
      contentType: s.contentType,
      storageClass: s.storageClass ?? "STANDARD",
      crc32c,
      md5Hash,
      timeCreated: now,
      updated: now,
      timeStorageClassUpdated: now,
      metadata: s.metadata,
    };
    await replaceObject(o);
    s.done = o;
    return o;
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", base);
    const parts = url.pathname.split("/").slice(1); // raw, still percent-encoded
    const q = url.searchParams;
    const seg = (i: number) => decodeURIComponent(parts[i] ?? "");
    const method = req.method ?? "GET";

    // Resumable upload session URI: no token needed, the upload_id is the capability.
    if (parts[0] === "upload" && q.has("upload_id")) {
      const s = sessions.get(q.get("upload_id") ?? "");
      if (!s) throw new HttpError(404, "No such upload session.", "notFound");
      if (method === "DELETE") {
        sessions.delete(s.id);
        await unlink(s.file).catch(() => {});
        req.resume();
        return send(res, 499, "");
      }
      if (method !== "PUT") throw new HttpError(405, "Method not allowed", "invalid");
      return uploadChunk(s, req, res);
    }

    authorize(req);

    if (
      parts[0] === "upload" &&
      parts[1] === "storage" &&
      parts[2] === "v1" &&
      parts[3] === "b" &&
      parts[5] === "o" &&
      parts.length === 6
    ) {
      if (method !== "POST") throw new HttpError(405, "Method not allowed", "invalid");
      const uploadType = q.get("uploadType");
      if (uploadType !== "resumable")
        throw new HttpError(501, `uploadType=${uploadType} is not implemented by this test server`, "invalid");
      const bucket = seg(4);
      bucketOrThrow(bucket);
      const body = (await readJson(req)) as {
        name?: string;
        contentType?: string;
        storageClass?: string;
        metadata?: Record<string, string>;
      };
      const name = q.get("name") ?? body.name;
      if (!name) throw new HttpError(400, "Required object name is missing.", "required");
      const id = randomBytes(16).toString("hex");
      const s: UploadSession = {
        id,
        bucket,
        name,
        file: path.join(dir, "uploads", id),
        received: 0,
        crc: new CRC32C(),
        md5: createHash("md5"),
        contentType: body.contentType ?? header(req, "x-upload-content-type") ?? "application/octet-stream",
        storageClass: body.storageClass,
        metadata: body.metadata,
        busy: false,
      };
      await writeFile(s.file, "");
      sessions.set(id, s);
      // On the host the client asked (as GCS does), so a proxy in front of the server stays in the path.
      const origin = /^127\.0\.0\.1:\d+$/.test(req.headers.host ?? "") ? `http://${req.headers.host}` : base;
      res.setHeader(
        "Location",
        `${origin}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`,
      );
      return sendJson(res, 200, {});
    }

    const download = parts[0] === "download";
    const p = download ? parts.slice(1) : parts;
    if (p[0] !== "storage" || p[1] !== "v1" || p[2] !== "b" || !p[3]) throw new HttpError(404, "Not Found", "notFound");
    const off = download ? 1 : 0;
    const bucket = seg(3 + off);

    if (p.length === 4) {
      if (method !== "GET") throw new HttpError(405, "Method not allowed", "invalid");
      bucketOrThrow(bucket);
      return sendJson(res, 200, {
        kind: "storage#bucket",
        id: bucket,
        name: bucket,
        location: "US",
        storageClass: "STANDARD",
      });
    }
    if (p[4] !== "o") throw new HttpError(404, "Not Found", "notFound");

    if (p.length === 5) {
      if (method !== "GET") throw new HttpError(405, "Method not allowed", "invalid");
      return list(bucket, q, res);
    }

    const name = seg(5 + off);
    if (p.length === 6) {
      if (method === "GET") {
        const o = objectOrThrow(bucket, name);
        if (q.get("alt") === "media" || download) return media(o, req, res);
        return sendJson(res, 200, resource(o));
      }
      if (method === "DELETE") {
        const o = objectOrThrow(bucket, name);
        bucketOrThrow(bucket).delete(name);
        await unlink(o.file).catch(() => {});
        return send(res, 204, "");
      }
      if (method === "PATCH" || method === "PUT") {
        const o = objectOrThrow(bucket, name);
        const body = (await readJson(req)) as { contentType?: string; metadata?: Record<string, string> };
        if (body.contentType) o.contentType = body.contentType;
        if (body.metadata) o.metadata = { ...o.metadata, ...body.metadata };
        o.metageneration++;
        o.updated = new Date().toISOString();
        return sendJson(res, 200, resource(o));
      }
      throw new HttpError(405, "Method not allowed", "invalid");
    }

    // /storage/v1/b/:b/o/:o/(rewriteTo|copyTo)/b/:b2/o/:o2
    if (p.length === 10 && (p[6] === "rewriteTo" || p[6] === "copyTo") && p[7] === "b" && p[9] === "o") {
      throw new HttpError(400, "Destination object name is missing.", "required");
    }
    if (
      p.length === 11 &&
      (p[6] === "rewriteTo" || p[6] === "copyTo") &&
      p[7] === "b" &&
      p[9] === "o" &&
      method === "POST"
    ) {
      const src = objectOrThrow(bucket, name);
      const destBucket = seg(8);
      const destName = seg(10);
      bucketOrThrow(destBucket);
      const body = (await readJson(req)) as {
        storageClass?: string;
        contentType?: string;
        metadata?: Record<string, string>;
      };
      if (
        body.storageClass &&
        ![
          "STANDARD",
          "NEARLINE",
          "COLDLINE",
          "ARCHIVE",
          "MULTI_REGIONAL",
          "REGIONAL",
          "DURABLE_REDUCED_AVAILABILITY",
        ].includes(body.storageClass)
      ) {
        throw new HttpError(400, `Invalid storage class: ${body.storageClass}`, "invalid");
      }
      const now = new Date().toISOString();
      let file = src.file;
      if (destBucket !== bucket || destName !== name) {
        file = path.join(dir, "objects", randomBytes(12).toString("hex"));
        await copyFile(src.file, file);
      }
      const o: StoredObject = {
        ...src,
        bucket: destBucket,
        name: destName,
        file,
        generation: newGeneration(),
        metageneration: 1,
        contentType: body.contentType ?? src.contentType,
        metadata: body.metadata ?? src.metadata,
        storageClass: body.storageClass ?? src.storageClass,
        timeCreated: now,
        updated: now,
        timeStorageClassUpdated:
          body.storageClass && body.storageClass !== src.storageClass ? now : src.timeStorageClassUpdated,
      };
      await replaceObject(o);
      const out = resource(o);
      if (p[6] === "copyTo") return sendJson(res, 200, out);
      return sendJson(res, 200, {
        kind: "storage#rewriteResponse",
        totalBytesRewritten: String(o.size),
        objectSize: String(o.size),
        done: true,
        resource: out,
      });
    }
    throw new HttpError(404, "Not Found", "notFound");
  }

  async function uploadChunk(s: UploadSession, req: IncomingMessage, res: ServerResponse) {
    if (s.done) {
      req.resume();
      return sendJson(res, 200, resource(s.done));
    }
    if (s.busy) throw new HttpError(503, "Another request is writing to this upload session.", "backendError");
    const range = header(req, "content-range") ?? "bytes */*";
    const m = /^bytes (?:\*|(\d+)-(\d+|\*))\/(\d+|\*)$/.exec(range.trim());
    if (!m) throw new HttpError(400, `Bad Content-Range: ${range}`, "invalid");
    const start = m[1] === undefined ? undefined : Number(m[1]);
    const endOpen = m[2] === "*";
    const total = m[3] === "*" ? undefined : Number(m[3]);

    if (start === undefined) {
      // Status query, or "finish with what you have".
      req.resume();
      if (total !== undefined && total === s.received) return sendJson(res, 200, resource(await finalize(s, req)));
      return incomplete(res, s);
    }
    if (start > s.received) {
      req.resume();
      throw new HttpError(400, `Upload offset ${start} is beyond the ${s.received} bytes received so far.`, "invalid");
    }

    s.busy = true;
    const before = { received: s.received, crc: s.crc.valueOf(), md5: s.md5.copy() };
    let skip = s.received - start;
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        if (skip > 0) {
          const n = Math.min(skip, chunk.length);
          skip -= n;
          chunk = chunk.subarray(n);
        }
        if (chunk.length) {
          s.crc.update(chunk);
          s.md5.update(chunk);
          s.received += chunk.length;
        }
        cb(null, chunk);
      },
    });
    try {
      await pipeline(
        req,
        hasher,
        createWriteStream(s.file, { flags: before.received === 0 ? "w" : "r+", start: before.received }),
      );
    } catch {
      // The client went away mid-request: forget this request's bytes.
      s.received = before.received;
      s.crc = new CRC32C(before.crc);
      s.md5 = before.md5;
      await truncate(s.file, before.received).catch(() => {});
      s.busy = false;
      if (!res.headersSent && !res.destroyed) res.destroy();
      return;
    }
    s.busy = false;
    if (total !== undefined) {
      if (s.received > total) throw new HttpError(400, "More bytes received than the declared object size.", "invalid");
      if (s.received === total) return sendJson(res, 200, resource(await finalize(s, req)));
      return incomplete(res, s);
    }
    if (endOpen) return sendJson(res, 200, resource(await finalize(s, req)));
    return incomplete(res, s);
  }

  function incomplete(res: ServerResponse, s: UploadSession) {
    if (s.received > 0) res.setHeader("Range", `bytes=0-${s.received - 1}`);
    res.statusCode = 308;
    res.setHeader("Content-Length", "0");
    res.end();
  }

  function list(bucket: string, q: URLSearchParams, res: ServerResponse) {
    const b = bucketOrThrow(bucket);
    const prefix = q.get("prefix") ?? "";
    const delimiter = q.get("delimiter") ?? "";
    const max = Math.min(Number(q.get("maxResults") ?? 1000) || 1000, 1000);
    const after = q.get("pageToken") ? Buffer.from(q.get("pageToken") ?? "", "base64url").toString("utf8") : undefined;
    const names = [...b.keys()].filter((n) => n.startsWith(prefix) && (after === undefined || n > after)).sort();
    const items: ReturnType<typeof resource>[] = [];
    const prefixes = new Set<string>();
    let last: string | undefined;
    let more = false;
    for (const n of names) {
      if (items.length + prefixes.size >= max) {
        more = true;
        break;
      }
      last = n;
      if (delimiter) {
        const i = n.indexOf(delimiter, prefix.length);
        if (i >= 0) {
          prefixes.add(n.slice(0, i + delimiter.length));
          continue;
        }
      }
      items.push(resource(b.get(n) as StoredObject));
    }
    return sendJson(res, 200, {
      kind: "storage#objects",
      ...(items.length ? { items } : {}),
      ...(prefixes.size ? { prefixes: [...prefixes] } : {}),
      ...(more && last !== undefined ? { nextPageToken: Buffer.from(last).toString("base64url") } : {}),
    });
  }

  async function media(o: StoredObject, req: IncomingMessage, res: ServerResponse) {
    let start = 0;
    let end = o.size - 1;
    let partial = false;
    const range = header(req, "range");
    if (range) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (!m || (m[1] === "" && m[2] === "")) throw new HttpError(400, `Bad Range: ${range}`, "invalid");
      if (m[1] === "") {
        start = Math.max(0, o.size - Number(m[2]));
      } else {
        start = Number(m[1]);
        if (m[2] !== "") end = Math.min(end, Number(m[2]));
      }
      if (start >= o.size || start > end) {
        res.setHeader("Content-Range", `bytes */${o.size}`);
        throw new HttpError(416, "The requested range cannot be satisfied.", "requestedRangeNotSatisfiable");
      }
      partial = true;
    }
    res.statusCode = partial ? 206 : 200;
    res.setHeader("Content-Type", o.contentType);
    res.setHeader("Content-Length", String(o.size === 0 ? 0 : end - start + 1));
    res.setHeader("Accept-Ranges", "bytes");
    res.setHeader("x-goog-hash", `crc32c=${o.crc32c},md5=${o.md5Hash}`);
    res.setHeader("x-goog-generation", o.generation);
    res.setHeader("x-goog-metageneration", String(o.metageneration));
    res.setHeader("x-goog-stored-content-encoding", "identity");
    res.setHeader("x-goog-stored-content-length", String(o.size));
    res.setHeader("x-goog-storage-class", o.storageClass);
    if (partial) res.setHeader("Content-Range", `bytes ${start}-${end}/${o.size}`);
    if (o.size === 0) return res.end();
    await pipeline(createReadStream(o.file, { start, end }), res).catch(() => {});
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e =
        err instanceof HttpError
          ? err
          : new HttpError(500, err instanceof Error ? err.message : String(err), "backendError");
      if (res.headersSent) return res.destroy();
      req.resume();
      sendJson(res, e.status, {
        error: {
          code: e.status,
          message: e.message,
          errors: [{ message: e.message, domain: "global", reason: e.reason }],
        },
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });

  const credentials = account.json;
  return {
    apiEndpoint: base,
    endpoint: base,
    port,
    projectId: PROJECT,
    bucket: bucketName,
    credentials,
    wrongCredentials: () => ({ ...serviceAccount(clientEmail).json, private_key_id: credentials.private_key_id }),
    createBucket: (name) => void buckets.set(name, buckets.get(name) ?? new Map()),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function serviceAccount(clientEmail: string): { json: GcsServiceAccountJson; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    publicKey,
    json: {
      type: "service_account",
      project_id: PROJECT,
      private_key_id: randomBytes(20).toString("hex"),
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      client_email: clientEmail,
      client_id: String(100000000000 + Math.floor(Math.random() * 1e9)),
      // Never contacted: a non-default universe makes google-auth-library self-sign JWTs.
      token_uri: "http://127.0.0.1:9/token",
      universe_domain: UNIVERSE,
    },
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseGoogHash(v: string | string[] | undefined): { crc32c?: string; md5?: string } {
  const out: { crc32c?: string; md5?: string } = {};
  for (const part of (Array.isArray(v) ? v.join(",") : (v ?? "")).split(",")) {
    const i = part.indexOf("=");
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    if (k === "crc32c" || k === "md5") out[k] = part.slice(i + 1).trim();
  }
  return out;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > 1 << 20) throw new HttpError(413, "Request body too large.", "invalid");
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (!text) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, "Request body is not valid JSON.", "parseError");
  }
}

function send(res: ServerResponse, status: number, body: string) {
  res.statusCode = status;
  res.setHeader("Content-Length", String(Buffer.byteLength(body)));
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.setHeader("Content-Type", "application/json; charset=UTF-8");
  send(res, status, JSON.stringify(body));
}

import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3rver, type S3rverServer } from "../../test/servers/s3rver";
import { createAdapter } from "./index";

const MiB = 1024 * 1024;

/**
 * s3rver behind a proxy that logs part copies and aborts as they are sent and answered. s3rver
 * refuses part numbers above 3 at once; the parts it accepts take 300 ms, as big copies take a
 * while at S3.
 */
async function loggedS3rver(s: S3rverServer): Promise<{ endpoint: string; log: string[]; server: Server }> {
  const log: string[] = [];
  const server = createServer((req, res) => {
    const query = new URL(req.url ?? "/", "http://proxy").searchParams;
    const part = req.method === "PUT" && req.headers["x-amz-copy-source"] ? query.get("partNumber") : null;
    const name = part ? `part ${part}` : req.method === "DELETE" && query.has("uploadId") ? "abort" : null;
    if (name) log.push(`${name} sent`);
    const forward = () => {
      const upstream = request(
        { host: "127.0.0.1", port: s.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          res.on("finish", () => name && log.push(`${name} answered ${answer.statusCode}`));
        },
      );
      req.pipe(upstream);
    };
    if (part && Number(part) <= 3) setTimeout(forward, 300);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, log, server };
}

describe("s3 adapter, a multipart copy that fails", () => {
  let s: S3rverServer;
  beforeAll(async () => {
    s = await startS3rver({ maxParts: 3 });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it("starts no part after a failed one and aborts once the parts being copied are done", async () => {
    const proxy = await loggedS3rver(s);
    try {
      const credentials = { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
      await new S3Client({ endpoint: s.endpoint, region: s.region, forcePathStyle: true, credentials }).send(
        new PutObjectCommand({ Bucket: s.bucket, Key: "mp/big.bin", Body: Buffer.alloc(40 * MiB, 7) }),
      );
      const adapter = createAdapter(
        { kind: "s3", bucket: s.bucket, region: s.region, endpoint: proxy.endpoint, ...credentials, prefix: "mp" },
        { s3: { copyObjectMaxBytes: MiB, copyPartSize: 5 * MiB } },
      );
      // 8 parts, 4 at a time: parts 1–3 are being copied when part 4 is refused.
      await expect(adapter.setStorageClass("big.bin", "GLACIER")).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 600)); // time for any copy still running to show
      const abort = proxy.log.indexOf("abort sent");
      expect(abort).toBeGreaterThan(0);
      expect(proxy.log.slice(0, abort).sort()).toEqual([
        "part 1 answered 200",
        "part 1 sent",
        "part 2 answered 200",
        "part 2 sent",
        "part 3 answered 200",
        "part 3 sent",
        "part 4 answered 400",
        "part 4 sent",
      ]);
      expect(proxy.log.slice(abort)).toEqual(["abort sent", "abort answered 204"]);
      expect(await adapter.head("big.bin")).toMatchObject({ size: 40 * MiB, storageClass: "STANDARD" });
    } finally {
      proxy.server.closeAllConnections();
      await new Promise((resolve) => proxy.server.close(resolve));
    }
  });
});

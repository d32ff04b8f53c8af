import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendDeclaredContentLength, withDeclaredLength } from "./content-length";

// A Node.js server answering the way Next.js sends a route handler's Response: every header but
// Content-Length (which it drops) copied onto the response, then the body streamed.
let server: Server;
let url: string;
beforeAll(async () => {
  sendDeclaredContentLength();
  server = createServer((req, res) => {
    const body = Buffer.alloc(100_000, 7);
    const headers = req.url === "/declared" ? withDeclaredLength({ "Content-Length": String(body.length) }) : {};
    for (const [name, value] of Object.entries(headers)) if (name !== "Content-Length") res.appendHeader(name, value);
    if (req.method === "HEAD") return void res.end();
    res.flushHeaders();
    Readable.from([body.subarray(0, 50_000), body.subarray(50_000)]).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

// Asynchronously: the server answers from this same process.
const curl = async (...args: string[]) =>
  (await promisify(execFile)("curl", ["-sS", "-o", "/dev/null", "-D", "-", ...args])).stdout;

describe("declared Content-Length", () => {
  it("reaches the client of a streamed response, for GET and HEAD, and the private header does not", async () => {
    for (const head of [await curl(`${url}/declared`), await curl("-I", `${url}/declared`)]) {
      expect(head).toMatch(/\r\ncontent-length: 100000\r\n/i);
      expect(head).not.toMatch(/transfer-encoding|x-coffer-content-length/i);
    }
  });

  it("leaves responses that declare nothing as they were (chunked)", async () => {
    expect(await curl(`${url}/other`)).toMatch(/\r\ntransfer-encoding: chunked\r\n/i);
  });
});

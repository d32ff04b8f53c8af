import "server-only";
import { createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guardedAgents, makeGuardedAgents } from "./guarded-agent";

let server: Server;
let port: number;
let connections = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/stall")
      res.writeHead(200).write("part"); // then nothing more
    else if (req.url === "/large") res.end(Buffer.alloc(16 * 1024 * 1024));
    else res.end("ok");
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const fetchWith = (allowPrivate: boolean, host: string) =>
  new Promise<string>((resolve) => {
    get({ host, port, path: "/", agent: guardedAgents(allowPrivate).http }, (res) => {
      res.resume();
      res.on("end", () => resolve(`HTTP ${res.statusCode}`));
    }).on("error", (err) => resolve(err.message));
  });

describe("guarded agents", () => {
  it("connect to allowed addresses, names and literals alike", async () => {
    expect(await fetchWith(true, "127.0.0.1")).toBe("HTTP 200");
    expect(await fetchWith(true, "localhost")).toBe("HTTP 200");
  });

  it("never open a socket to a refused address, so an open port looks like a closed one", async () => {
    const before = connections;
    const open = await fetchWith(false, "127.0.0.1");
    const byName = await fetchWith(false, "localhost");
    expect(open).toMatch(/^Coffer does not connect to 127\.0\.0\.1: it is a loopback address/);
    expect(byName).toMatch(/^Coffer does not connect to localhost \((127\.0\.0\.1|::1)\): it is a loopback address/);
    expect(connections).toBe(before);
  });

  it("drop a socket that goes silent mid-response, on a reused keep-alive socket too", async () => {
    const { http } = makeGuardedAgents(true, 300);
    const request = (path: string) =>
      new Promise<string>((resolve) => {
        get({ host: "127.0.0.1", port, path, agent: http }, (res) => {
          res.on("data", () => {});
          res.on("end", () => resolve("ended"));
          res.on("error", (err: NodeJS.ErrnoException) => resolve(`${err.code}: ${err.message}`));
        }).on("error", (err: NodeJS.ErrnoException) => resolve(`${err.code}: ${err.message}`));
      });
    const before = connections;
    expect(await request("/")).toBe("ended");
    const started = Date.now();
    expect(await request("/stall")).toMatch(
      /^(ETIMEDOUT: Nothing came or went on the connection to the storage service for 0\.3 s\.|ECONNRESET: aborted)$/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(connections - before).toBe(1); // the stalled request went out on the kept-alive socket
    http.destroy();
  });

  it("keep a socket that is quiet because its reader paused (a restore waiting for psql)", async () => {
    const { http } = makeGuardedAgents(true, 300);
    const read = await new Promise<number>((resolve, reject) => {
      get({ host: "127.0.0.1", port, path: "/large", agent: http }, (res) => {
        let bytes = 0;
        res.on("data", (c: Buffer) => (bytes += c.length));
        res.on("end", () => resolve(bytes));
        res.on("error", reject);
        res.pause();
        setTimeout(() => res.resume(), 1_000);
      }).on("error", reject);
    });
    expect(read).toBe(16 * 1024 * 1024);
    http.destroy();
  });
});

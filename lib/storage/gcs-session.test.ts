import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cancelSession } from "./gcs";

let trap: Server;
let origin: string;
const seen: string[] = [];

beforeAll(async () => {
  trap = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === "/redirect") res.writeHead(307, { Location: `http://${req.headers.host}/followed` }).end();
    else res.writeHead(499).end();
  });
  await new Promise<void>((resolve) => trap.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => trap.close(() => resolve())));

describe("dropping an unfinished GCS upload session", () => {
  it("sends its DELETE only to the endpoint's own origin, and follows no redirect", async () => {
    seen.length = 0;
    await cancelSession(`${origin}/upload?upload_id=a`, "https://storage.googleapis.com");
    expect(seen).toEqual([]); // a session URI elsewhere (an endpoint's answer) is not followed
    await cancelSession(`${origin}/upload?upload_id=b`, origin);
    await cancelSession(`${origin}/redirect`, `${origin}/`);
    expect(seen).toEqual(["DELETE /upload?upload_id=b", "DELETE /redirect"]);
  });
});

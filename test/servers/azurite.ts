import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, stopProcess } from "../ports";

/** The well-known development account every Azurite accepts (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteServer {
  /** Blob service URL including the account, e.g. http://127.0.0.1:41234/devstoreaccount1 */
  endpoint: string;
  port: number;
  accountName: string;
  accountKey: string;
  connectionString: string;
  /**
   * With `rehydration: "pending"`: finishes every rehydration in progress (what Azure does hours
   * after Set Blob Tier); resolves with how many. Without it Azurite rehydrates at once: 0.
   */
  finishRehydrations(): Promise<number>;
  stop(): Promise<void>;
}

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../node_modules/.bin/azurite-blob");

/** Loaded into the Azurite process: it exits when the test process that started it is gone. */
const WATCHDOG = `data:text/javascript,${encodeURIComponent(
  "const parent = process.ppid; setInterval(() => { try { process.kill(parent, 0); } catch { process.exit(0); } }, 2000).unref();",
)}`;

/**
 * Azurite's blob service on a free loopback port, workspace in a temp dir removed on stop.
 *
 * Azurite refuses to read Archive blobs (409 BlobArchived) like Azure, but a Set Blob Tier from
 * Archive to an online tier takes effect at once, where Azure takes up to 15 hours. With
 * `rehydration: "pending"`, an HTTP proxy in front of Azurite (`azuriteProxy`) keeps such a
 * blob archived until `finishRehydrations()`. With `maxBlocks`, the same proxy refuses a block
 * list longer than that (Azure's limit is 50,000), for tests of large objects with small blocks.
 */
export async function startAzurite(
  opts: { rehydration?: "instant" | "pending"; maxBlocks?: number } = {},
): Promise<AzuriteServer> {
  const dir = mkdtempSync(path.join(tmpdir(), "coffer-azurite-"));
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      "--import",
      WATCHDOG,
      bin,
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      String(port),
      "--location",
      dir,
      "--skipApiVersionCheck",
      "--disableTelemetry",
      "--loose",
      "--silent",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  const keep = (d: Buffer) => (log = (log + d.toString()).slice(-4000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);

  let proxy: AzuriteProxy | undefined;
  const stop = async () => {
    await proxy?.stop();
    await stopProcess(child, dir);
  };

  try {
    await waitForPort(port, child, () => log);
    if (opts.rehydration === "pending" || opts.maxBlocks !== undefined)
      proxy = await azuriteProxy(port, { rehydration: opts.rehydration === "pending", maxBlocks: opts.maxBlocks });
  } catch (err) {
    await stop();
    throw err;
  }
  const endpoint = `http://127.0.0.1:${proxy?.port ?? port}/${AZURITE_ACCOUNT}`;
  return {
    endpoint,
    port: proxy?.port ?? port,
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`,
    finishRehydrations: async () => proxy?.finish() ?? 0,
    stop,
  };
}

interface AzuriteProxy {
  port: number;
  finish(): number;
  stop(): Promise<void>;
}

const ONLINE_TIERS = ["hot", "cool", "cold"];

/**
 * Passes every request through to Azurite unchanged (so Azurite still checks signatures). With
 * `maxBlocks`, a Put Block List naming more blocks is refused (400 BlockListTooLong, as Azure
 * does past 50,000). With `rehydration`, it plays Azure's pending rehydration on top:
 * - a Set Blob Tier that Azurite answers 202 (Archive → Hot/Cool/Cold) marks the blob pending;
 * - Get Blob Properties of a pending blob says `x-ms-access-tier: Archive` with
 *   `x-ms-archive-status: rehydrate-pending-to-<tier>`, as Azure does while it rehydrates;
 * - downloading it is refused with 409 BlobArchived, another Set Blob Tier with 409 BlobBeingRehydrated;
 * - writing or deleting the blob ends the mark. Listings are not rewritten.
 */
async function azuriteProxy(
  targetPort: number,
  opts: { rehydration: boolean; maxBlocks?: number },
): Promise<AzuriteProxy> {
  const pending = new Map<string, { tier: string; priority: string }>();
  const refuse = (res: ServerResponse, method: string, status: number, code: string, message: string) => {
    res.writeHead(status, { "x-ms-error-code": code, "content-type": "application/xml" });
    res.end(
      method === "HEAD"
        ? undefined
        : `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    );
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://azurite");
    const blob = decodeURIComponent(url.pathname); // /account/container/name
    const comp = url.searchParams.get("comp");
    const isBlob = blob.split("/").length > 3;
    const mark = isBlob ? pending.get(blob) : undefined;
    if (mark && req.method === "GET" && !comp)
      return refuse(res, "GET", 409, "BlobArchived", "This operation is not permitted on an archived blob.");
    if (mark && req.method === "PUT" && comp === "tier")
      return refuse(
        res,
        "PUT",
        409,
        "BlobBeingRehydrated",
        "This operation is not permitted because the blob is being rehydrated.",
      );
    const forward = (body?: Buffer) => {
      const upstream = httpRequest(
        { host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          const headers = { ...up.headers };
          const status = up.statusCode ?? 502;
          if (opts.rehydration && isBlob && status < 300) {
            const tier = String(req.headers["x-ms-access-tier"] ?? "").toLowerCase();
            if (req.method === "PUT" && comp === "tier" && status === 202 && ONLINE_TIERS.includes(tier)) {
              pending.set(blob, { tier, priority: String(req.headers["x-ms-rehydrate-priority"] ?? "Standard") });
            } else if ((req.method === "PUT" && (!comp || comp === "blocklist")) || req.method === "DELETE") {
              pending.delete(blob);
            } else if (mark && req.method === "HEAD") {
              headers["x-ms-access-tier"] = "Archive";
              headers["x-ms-archive-status"] = `rehydrate-pending-to-${mark.tier}`;
              headers["x-ms-rehydrate-priority"] = mark.priority;
            }
          }
          res.writeHead(status, headers);
          up.pipe(res);
        },
      );
      upstream.on("error", (err) => res.destroy(err));
      if (body) upstream.end(body);
      else req.pipe(upstream);
    };
    if (opts.maxBlocks === undefined || req.method !== "PUT" || comp !== "blocklist") return forward();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const blocks = (body.toString("utf8").match(/<(Latest|Committed|Uncommitted)>/g) ?? []).length;
      if (blocks > opts.maxBlocks!)
        return refuse(
          res,
          "PUT",
          400,
          "BlockListTooLong",
          `The block list may not contain more than ${opts.maxBlocks} blocks.`,
        );
      forward(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    finish() {
      const n = pending.size;
      pending.clear();
      return n;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`azurite-blob exited (${child.exitCode}): ${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`azurite-blob did not listen on 127.0.0.1:${port} within 30 s: ${log()}`);
}

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
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
  stop(): Promise<void>;
}

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../node_modules/.bin/azurite-blob");

/** Loaded into the Azurite process: it exits when the test process that started it is gone. */
const WATCHDOG = `data:text/javascript,${encodeURIComponent(
  "const parent = process.ppid; setInterval(() => { try { process.kill(parent, 0); } catch { process.exit(0); } }, 2000).unref();",
)}`;

/** Azurite's blob service on a free loopback port, workspace in a temp dir removed on stop. */
export async function startAzurite(): Promise<AzuriteServer> {
  const dir = mkdtempSync(path.join(tmpdir(), "coffer-azurite-"));
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", WATCHDOG, bin, "--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", dir, "--skipApiVersionCheck", "--disableTelemetry", "--loose", "--silent"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  const keep = (d: Buffer) => (log = (log + d.toString()).slice(-4000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);

  const stop = () => stopProcess(child, dir);

  try {
    await waitForPort(port, child, () => log);
  } catch (err) {
    await stop();
    throw err;
  }
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    endpoint,
    port,
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`,
    stop,
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

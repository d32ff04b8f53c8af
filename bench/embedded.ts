import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * Points Coffer at an embedded setup of its own for a benchmark: a fresh data folder (PGlite,
 * local disk), a throwaway master key, this host allowed as a server. Call it before importing
 * lib/ (benchmarks import it dynamically); resolves with the data folder, to remove at the end.
 */
export function embeddedCoffer(name: string): string {
  const dataDir = mkdtempSync(path.join(tmpdir(), `coffer-bench-${name}-`));
  process.env.DATA_DIR = dataDir;
  process.env.DATABASE_URL = "";
  process.env.MASTER_KEYS = `bench:${randomBytes(32).toString("base64")}`;
  process.env.AUTH_SECRET = randomBytes(32).toString("hex");
  process.env.ALLOW_LOCAL_SERVERS = "true";
  process.env.ALLOW_PRIVATE_NETWORKS = "true";
  return dataDir;
}

#!/usr/bin/env node
// `npx coffer …` (package.json "bin"): runs scripts/coffer.mts with the same loader as `npm run coffer`.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const tsx = createRequire(import.meta.url).resolve("tsx/cli");
// The caller's working folder stays (paths on the command line are relative to it); the project's tsconfig resolves "@/".
const run = spawnSync(
  process.execPath,
  [tsx, "--conditions=react-server", path.join(here, "coffer.mts"), ...process.argv.slice(2)],
  {
    stdio: "inherit",
    env: { ...process.env, TSX_TSCONFIG_PATH: path.join(here, "..", "tsconfig.json") },
  },
);
process.exit(run.status ?? 1);

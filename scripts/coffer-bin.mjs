#!/usr/bin/env node
// `npx coffer …` (package.json "bin"): runs scripts/coffer.mts with the same loader as `npm run coffer`.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { constants } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const tsx = createRequire(import.meta.url).resolve("tsx/cli");
// The caller's working folder stays (paths on the command line are relative to it); the project's tsconfig resolves "@/".
const child = spawn(
  process.execPath,
  [tsx, "--conditions=react-server", path.join(here, "coffer.mts"), ...process.argv.slice(2)],
  {
    stdio: "inherit",
    env: { ...process.env, TSX_TSCONFIG_PATH: path.join(here, "..", "tsconfig.json") },
  },
);
// `kill <this pid>` (a service manager, a timeout) must reach the command, which removes the
// plaintext it was writing; Ctrl-C reaches it anyway (a terminal signals the whole group), and a
// second signal only repeats that.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)));

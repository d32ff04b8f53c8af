import { defineConfig } from "@playwright/test";
import { randomBytes } from "node:crypto";

const port = Number(process.env.E2E_PORT ?? 3217);
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  timeout: 90_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    },
  },
  // The production build (npm test builds it first) on a fresh PGlite data folder, as users run it.
  webServer: {
    command: `rm -rf .data/e2e && npx next start -H 127.0.0.1 -p ${port}`,
    url: `${baseURL}/sign-in`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "pipe",
    env: {
      DATA_DIR: ".data/e2e",
      DATABASE_URL: "",
      MASTER_KEYS: `e2e:${randomBytes(32).toString("base64")}`,
      AUTH_SECRET: randomBytes(32).toString("hex"),
      APP_URL: baseURL,
      // The journeys back up this machine and talk to test servers on 127.0.0.1.
      ALLOW_LOCAL_SERVERS: "true",
      ALLOW_PRIVATE_NETWORKS: "true",
    },
  },
});

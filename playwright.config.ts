import { defineConfig } from "@playwright/test";
import { randomBytes } from "node:crypto";
import { serverLog } from "./e2e/server-log";
import { e2eMetricsToken } from "./e2e/metrics-token";
import { retentionFixture } from "./e2e/seed/retention-fixture";

const port = Number(process.env.E2E_PORT ?? 3217);
const baseURL = `http://127.0.0.1:${port}`;

/** A Coffer of its own: data folder, fresh keys and secrets. */
function serverEnv(dataDir: string, appUrl: string): Record<string, string> {
  return {
    DATA_DIR: dataDir,
    DATABASE_URL: "",
    MASTER_KEYS: `e2e:${randomBytes(32).toString("base64")}`,
    AUTH_SECRET: randomBytes(32).toString("hex"),
    APP_URL: appUrl,
    TRUST_PROXY: "false",
    // The journeys back up this machine and talk to test servers on 127.0.0.1.
    ALLOW_LOCAL_SERVERS: "true",
    ALLOW_PRIVATE_NETWORKS: "true",
    // The operators' metrics endpoint is on (e2e/webhooks.spec.ts scrapes it).
    METRICS_TOKEN: e2eMetricsToken,
  };
}

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
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  // The production build (npm test builds it first) on fresh PGlite data folders, as users run it.
  // Playwright starts these one after the other, before any test, and kills each process group at the end.
  webServer: [
    {
      name: "coffer",
      // Teed to a file: e2e/helpers.ts reads the e-mail verification links it logs (no SMTP here).
      command: `rm -rf .data/e2e && mkdir -p .data && npx next start -H 127.0.0.1 -p ${port} 2>&1 | tee ${serverLog}`,
      url: `${baseURL}/sign-in`,
      timeout: 120_000,
      reuseExistingServer: false,
      stdout: "pipe",
      env: serverEnv(".data/e2e", baseURL),
    },
    {
      // The retention journey's own server: e2e/seed/retention.ts first fills its data folder
      // (made afresh) with 40 days of a schedule's backups, then it serves that folder.
      name: "coffer-retention",
      command: `npx tsx --conditions=react-server e2e/seed/retention.ts && npx next start -H 127.0.0.1 -p ${retentionFixture.port}`,
      url: `${retentionFixture.baseURL}/sign-in`,
      timeout: 180_000,
      reuseExistingServer: false,
      stdout: "pipe",
      env: serverEnv(retentionFixture.dataDir, retentionFixture.baseURL),
    },
  ],
});

import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The retention journey's own Coffer: a second e2e server (playwright.config.ts) whose data folder
 * e2e/seed/retention.ts fills with 40 days of a schedule's backups before `next start` opens it.
 * Shared by the config, the seed and the spec; nothing here touches the database.
 */
export const retentionFixture = {
  port: Number(process.env.E2E_RETENTION_PORT ?? 3218),
  /** Made afresh by every seed run (under the git-ignored .data/). */
  root: fileURLToPath(new URL("../../.data/e2e-retention", import.meta.url)),
  /** The server's DATA_DIR: its PGlite database and the team's local-disk storage (`storage/<team id>/…`). */
  get dataDir() {
    return path.join(this.root, "coffer");
  },
  /** What the schedule backs up (outside the data folder, as Coffer requires of local servers). */
  get filesDir() {
    return path.join(this.root, "files");
  },
  get baseURL() {
    return `http://127.0.0.1:${this.port}`;
  },
  email: "rita@example.test",
  password: "retention journey passphrase",
  name: "Rita",
  teamName: "Rita Ops",
  server: "app1",
  source: "site",
  destination: "disk",
  schedule: "nightly",
  timeZone: "Europe/Berlin",
  /** One backup a day at the same local time, the newest an hour old. */
  backups: 40,
};

import { afterAll, inject } from "vitest";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { randomBytes } from "node:crypto";

// Runs before each test file: a private database and data folder, chosen through the same
// environment variables the app reads, so lib/ code runs unchanged.
const dataDir = mkdtempSync(path.join(tmpdir(), "coffer-test-"));
process.env.DATA_DIR = dataDir;
process.env.MASTER_KEYS ??= `test-1:${randomBytes(32).toString("base64")}`;
process.env.AUTH_SECRET ??= randomBytes(32).toString("hex");

const adminUrl = inject("postgresAdminUrl");
const pgliteTemplate = inject("pgliteTemplateDir");
let dropDatabase: (() => Promise<void>) | undefined;

if (adminUrl) {
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name} template coffer_template`);
  process.env.DATABASE_URL = adminUrl.replace(/\/postgres$/, `/${name}`);
  dropDatabase = async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  };
} else if (pgliteTemplate) {
  delete process.env.DATABASE_URL;
  cpSync(pgliteTemplate, dataDir, { recursive: true });
}

afterAll(async () => {
  const { closeDatabase } = await import("@/lib/db");
  await closeDatabase();
  await dropDatabase?.();
  rmSync(dataDir, { recursive: true, force: true });
});

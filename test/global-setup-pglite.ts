import type { TestProject } from "vitest/node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** Migrates one PGlite data folder; each test file opens a copy (reopening is ~10× faster than creating). */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(tmpdir(), "coffer-pglite-template-"));
  const { openDatabase } = await import("../db/client");
  const template = await openDatabase({ dataDir: dir });
  await template.migrate();
  await template.close();
  project.provide("pgliteTemplateDir", dir);
  return () => rmSync(dir, { recursive: true, force: true });
}

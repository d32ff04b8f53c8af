import type { TestProject } from "vitest/node";
import postgres from "postgres";
import { startPgCluster } from "./pg-cluster";

declare module "vitest" {
  export interface ProvidedContext {
    postgresAdminUrl?: string;
    pgliteTemplateDir?: string;
  }
}

/** One cluster for the run; every test file gets its own database cloned from a migrated template. */
export default async function setup(project: TestProject) {
  const cluster = await startPgCluster();
  const admin = postgres(cluster.url("postgres"), { max: 1, onnotice: () => {} });
  await admin`create database coffer_template`;
  await admin.end();
  const { openDatabase } = await import("../db/client");
  const template = await openDatabase({ databaseUrl: cluster.url("coffer_template"), dataDir: "" });
  await template.migrate();
  await template.close();
  project.provide("postgresAdminUrl", cluster.url("postgres"));
  return () => cluster.stop();
}

import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { embeddedCoffer } from "./embedded";

export type DatabaseKind = "postgres" | "pglite";

/**
 * For benchmarks that run on both of Coffer's databases: run without an argument, this file runs
 * itself again once on PostgreSQL and once on PGlite, each in a process of its own (Coffer opens
 * one database per process), then exits. In those processes it sets up that database (a throwaway
 * PostgreSQL cluster, or PGlite in a fresh data folder) before lib/ is imported, and resolves with
 * which one it is and how to tear it down.
 */
export async function benchDatabase(name: string): Promise<{ kind: DatabaseKind; stop: () => Promise<void> }> {
  const kind = process.argv[2];
  if (kind !== "postgres" && kind !== "pglite") {
    for (const k of ["postgres", "pglite"]) {
      const run = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, k], { stdio: "inherit" });
      if (run.status !== 0) process.exit(run.status ?? 1);
    }
    process.exit(0);
  }
  const dataDir = embeddedCoffer(name);
  if (kind === "pglite") return { kind, stop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  const { default: postgres } = await import("postgres");
  const { startPgCluster } = await import("../test/pg-cluster");
  const cluster = await startPgCluster();
  const admin = postgres(cluster.url("postgres"), { max: 1, onnotice: () => {} });
  await admin`create database coffer`;
  await admin.end();
  process.env.DATABASE_URL = cluster.url("coffer");
  return {
    kind,
    stop: async () => {
      await cluster.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const ms = (ns: bigint) => Number(ns) / 1e6;

/** Runs `f` `runs` times; the times in milliseconds, sorted. */
export async function timed(runs: number, f: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await f();
    out.push(ms(process.hrtime.bigint() - t));
  }
  return out.sort((a, b) => a - b);
}

export const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

// npm run bench:ready [-- <stored secrets>]   (default 5 000 servers with a sealed password and
// 5 000 backups with a wrapped data key)
// How long /api/ready's checks take against Coffer's database on PostgreSQL: each check run on its
// own, and readiness() called the way a load balancer probes it (every 20 ms for 10 s, so cached
// results expire and are refreshed meanwhile), next to a bare `select 1` through the same
// connection pool as the baseline. Prints figures only.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import postgres from "postgres";
import { embeddedCoffer } from "./embedded";

const count = Number(process.argv[2] ?? 5_000);
const dataDir = embeddedCoffer("ready");

const { startPgCluster } = await import("../test/pg-cluster");
const cluster = await startPgCluster();
const admin = postgres(cluster.url("postgres"), { max: 1, onnotice: () => {} });
await admin`create database coffer`;
await admin.end();
process.env.DATABASE_URL = cluster.url("coffer");

const { sql } = await import("drizzle-orm");
const { backups, servers, teams } = await import("@/db/schema");
const { db, closeDatabase } = await import("@/lib/db");
const { keyring } = await import("@/lib/crypto/master-keys");
const { sealSecret } = await import("@/lib/crypto/secret-box");
const { newDataKey, wrapDek } = await import("@/lib/crypto/data-key");
const { inProcessEngine } = await import("@/inngest/in-process");
const checks = await import("@/lib/readiness/checks");
const { readiness } = await import("@/lib/readiness/readiness");

const ms = (ns: bigint) => Number(ns) / 1e6;
async function timed(runs: number, f: () => Promise<unknown>, gapMs = 0): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await f();
    out.push(ms(process.hrtime.bigint() - t));
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
  }
  return out.sort((a, b) => a - b);
}
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

try {
  const d = await db();
  const keys = keyring();
  const teamId = "team_bench";
  await d.insert(teams).values({ id: teamId, name: "Bench", slug: "bench" });
  for (let start = 0; start < count; start += 1_000) {
    const batch = Array.from(
      { length: Math.min(1_000, count - start) },
      (_, j) => `srv_${String(start + j).padStart(8, "0")}`,
    );
    await d.insert(servers).values(
      batch.map((id) => ({
        id,
        teamId,
        name: id,
        kind: "ssh" as const,
        host: "203.0.113.10",
        port: 22,
        username: "backup",
        workDir: "/var/tmp",
        passwordEnc: sealSecret(randomBytes(12).toString("hex"), {
          teamId,
          table: "servers",
          column: "password_enc",
          rowId: id,
        }),
      })),
    );
    await d.insert(backups).values(
      batch.map((serverId, j) => {
        const id = `bkp_${String(start + j).padStart(8, "0")}`;
        const w = wrapDek(newDataKey(), keys, teamId, id);
        return {
          id,
          teamId,
          serverId,
          trigger: "manual" as const,
          status: "succeeded" as const,
          encrypted: true,
          fileName: `${serverId}.tar.gz.enc`,
          dekWrapped: w.wrapped.toString("base64"),
          dekKeyId: w.keyId,
        };
      }),
    );
  }
  (await inProcessEngine()).stop();

  const baseline = await timed(500, () => d.execute(sql`select 1`));
  const rows: [string, number[]][] = [
    ["select 1 (baseline)", baseline],
    ["database check", await timed(500, checks.databaseAnswers)],
    ["migrations check", await timed(200, checks.migrationsApplied)],
    [
      `master keys check (${count} + ${count} values)`,
      await timed(50, () => checks.masterKeysOpenStoredValuesAllTeams()),
    ],
    ["readiness() every 20 ms for 10 s", await timed(500, readiness, 20)],
  ];
  const base = pct(baseline, 50);
  console.log(`\n/api/ready's checks on PostgreSQL, ${count} sealed secrets and ${count} wrapped data keys stored`);
  console.log("                                              median      p99      max   median ÷ select 1");
  for (const [name, xs] of rows)
    console.log(
      `${name.padEnd(44)} ${pct(xs, 50).toFixed(2).padStart(7)} ms ${pct(xs, 99).toFixed(2).padStart(7)} ms ${xs[xs.length - 1]!.toFixed(2).padStart(7)} ms ${(pct(xs, 50) / base).toFixed(1).padStart(8)}×`,
    );
  const ready = await readiness();
  console.log(`\nlast answer: ${JSON.stringify(ready)}`);
} finally {
  await closeDatabase();
  await cluster.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

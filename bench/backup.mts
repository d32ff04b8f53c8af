// npm run bench:backup [-- <rows>]   (default 2 000 000 rows, about 350 MB of SQL)
// The whole backup pipeline (pg_dump on the server → tar | pigz → envelope → local-disk destination)
// on this machine, encrypted against unencrypted, next to the runbook's shell pipeline
// (`pg_dump | gzip`) as the baseline, all in this process and run alternately. Prints figures only.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { embeddedCoffer } from "./embedded";

const rows = Number(process.argv[2] ?? 2_000_000);
const dataDir = embeddedCoffer("backup");

const { startPgCluster } = await import("../test/pg-cluster");
const { signUp } = await import("@/lib/auth/users");
const { teamForUser } = await import("@/lib/teams/context");
const { createServer, createSource } = await import("@/lib/servers/mutations");
const { createDestination } = await import("@/lib/destinations/mutations");
const { requestBackup } = await import("@/lib/backups/mutations");
const { getBackup } = await import("@/lib/backups/queries");
const { inProcessEngine } = await import("@/inngest/in-process");
const { backupEvent } = await import("@/inngest/events");
const { closeDatabase } = await import("@/lib/db");

const cluster = await startPgCluster();
try {
  const admin = postgres(cluster.url("postgres"), { max: 1, onnotice: () => {} });
  await admin`create database bench`;
  await admin.end();
  const bench = postgres(cluster.url("bench"), { max: 1, onnotice: () => {} });
  await bench.unsafe(
    `create table events (id bigint primary key, at timestamptz, kind text, payload text); insert into events select g, now() - g * interval '1 second', 'kind-' || (g % 17), md5(g::text) || md5((g * 7)::text) || repeat(' lorem ipsum', 5) from generate_series(1, ${rows}) g;`,
  );
  await bench.end();

  const { userId, teamSlug } = await signUp({
    name: "Bench",
    email: "bench@example.test",
    password: "bench-password-1",
    teamName: "Bench",
  });
  const t = await teamForUser({ userId, label: "bench@example.test", ip: null }, teamSlug, "owner");
  const { id: serverId } = await createServer(t, { kind: "local", name: "bench-host", workDir: tmpdir() });
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "postgres",
    name: "bench",
    pgHost: "127.0.0.1",
    pgPort: cluster.port,
    pgDatabase: "bench",
    pgUser: "postgres",
    pgSslmode: "disable",
  });
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk" });
  const engine = await inProcessEngine();

  const coffer = async (encrypted: boolean) => {
    const { id } = await requestBackup(t, {
      serverId,
      sourceIds: [sourceId],
      destinationIds: [destinationId],
      encrypted,
    });
    const started = performance.now();
    engine.send([backupEvent({ teamId: t.id, serverId, backupId: id })]);
    await engine.idle();
    const s = (performance.now() - started) / 1000;
    const b = await getBackup(t, id);
    if (b.status !== "succeeded") throw new Error(`backup ${b.status}: ${b.error}`);
    return { s, bytes: b.sizeBytes! };
  };
  const shell = () => {
    const out = path.join(dataDir, "shell.sql.gz");
    const started = performance.now();
    execFileSync("sh", [
      "-c",
      `pg_dump -h 127.0.0.1 -p ${cluster.port} -U postgres bench | ${hasPigz() ? "pigz" : "gzip"} -6 > ${out}`,
    ]);
    const s = (performance.now() - started) / 1000;
    rmSync(out);
    return { s };
  };

  const rounds = 3;
  const times = { shell: [] as number[], plain: [] as number[], encrypted: [] as number[] };
  let size = 0;
  const rss0 = process.memoryUsage().rss;
  let rssPeak = rss0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 100);
  await coffer(false); // warm-up: page cache, JIT
  for (let i = 0; i < rounds; i++) {
    times.shell.push(shell().s);
    times.plain.push((await coffer(false)).s);
    const e = await coffer(true);
    times.encrypted.push(e.s);
    size = e.bytes;
  }
  clearInterval(sampler);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const [sh, pl, en] = [median(times.shell), median(times.plain), median(times.encrypted)];
  const MiB = 1024 * 1024;
  console.log(
    `backup bench: ${rows} rows, stored object ${(size / MiB).toFixed(0)} MiB, ${rounds} rounds (medians), node ${process.version}\n`,
  );
  console.log(`  (a) pg_dump | ${hasPigz() ? "pigz" : "gzip"} -6 > file (runbook)   ${sh.toFixed(2).padStart(6)} s`);
  console.log(
    `  (b) Coffer, unencrypted                 ${pl.toFixed(2).padStart(6)} s   ${(pl / sh).toFixed(2)}× (a)`,
  );
  console.log(
    `  (c) Coffer, encrypted                   ${en.toFixed(2).padStart(6)} s   ${(en / sh).toFixed(2)}× (a)`,
  );
  console.log(`\n  encryption costs ${(((en - pl) / pl) * 100).toFixed(1)}% of backup time (c vs b)`);
  console.log(
    `  RSS: ${(rss0 / MiB).toFixed(0)} MiB before the runs, peak ${(rssPeak / MiB).toFixed(0)} MiB during them (stored object ${(size / MiB).toFixed(0)} MiB)`,
  );
  engine.stop();
} finally {
  await closeDatabase();
  await cluster.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

function hasPigz() {
  try {
    execFileSync("sh", ["-c", "command -v pigz"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// npm run bench:restore [-- <rows>]   (default 2 000 000 rows, about 350 MB of SQL)
// A database restore through Coffer (encrypted object on a local-disk destination → decrypt →
// gunzip (igzip -d where installed, else zlib) → tar → psql on the local server, into a scratch
// database renamed into place, rows counted from psql's COPY tags) next to `psql -f dump.sql` of
// the same dump (taken out of the same backup) into a fresh empty database as the baseline, and
// `createdb` then that psql as a second, all in this process and run alternately. Prints figures
// only, with where Coffer's time went and the CPU each used.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { GCProfiler } from "node:v8";
import postgres from "postgres";
import { embeddedCoffer } from "./embedded";

const rows = Number(process.argv[2] ?? 2_000_000);
const dataDir = embeddedCoffer("restore");
// The server's work folder: outside Coffer's data folder, as Coffer requires.
const workDir = mkdtempSync(path.join(tmpdir(), "coffer-bench-work-"));

const { startPgCluster } = await import("../test/pg-cluster");
const { signUp } = await import("@/lib/auth/users");
const { teamForUser } = await import("@/lib/teams/context");
const { createServer } = await import("@/lib/servers/mutations");
const { createSource } = await import("@/lib/servers/source-mutations");
const { createDestination } = await import("@/lib/destinations/mutations");
const { requestBackup } = await import("@/lib/backups/mutations");
const { getBackup } = await import("@/lib/backups/queries");
const { openArchive, succeededBackup } = await import("@/lib/backups/open-archive");
const { requestDatabaseRestore } = await import("@/lib/restores/mutations");
const { getRestore } = await import("@/lib/restores/queries");
const { inProcessEngine } = await import("@/inngest/in-process");
const { backupEvent, restoreEvent } = await import("@/inngest/events");
const { closeDatabase } = await import("@/lib/db");

const cluster = await startPgCluster();
const admin = postgres(cluster.url("postgres"), { max: 1, onnotice: () => {} });
let engine: Awaited<ReturnType<typeof inProcessEngine>> | undefined;
try {
  await admin`create database bench`;
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
  const { id: serverId } = await createServer(t, { kind: "local", name: "bench-host", workDir });
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
  engine = await inProcessEngine();
  const e = engine;

  // One encrypted backup; the baseline's dump.sql is its `postgres/bench.sql`, decrypted and unpacked.
  const { id: backupId } = await requestBackup(t, {
    serverId,
    sourceIds: [sourceId],
    destinationIds: [destinationId],
    encrypted: true,
  });
  e.send([backupEvent({ teamId: t.id, serverId, backupId })]);
  await e.idle();
  const backup = await getBackup(t, backupId);
  if (backup.status !== "succeeded") throw new Error(`backup ${backup.status}: ${backup.error}`);
  const member = "postgres/bench.sql";
  const { body } = await openArchive(t, await succeededBackup(t, backupId));
  const untar = spawn("tar", ["-xzf", "-", "-C", dataDir, member], { stdio: ["pipe", "ignore", "inherit"] });
  const untarred = new Promise<void>((resolve, reject) =>
    untar.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`tar exited ${code}`)))),
  );
  await pipeline(body, untar.stdin);
  await untarred;
  const dumpFile = path.join(dataDir, member);

  const count = async (database: string) => {
    const c = postgres(cluster.url(database), { max: 1, onnotice: () => {} });
    try {
      return Number((await c`select count(*)::bigint as n from events`)[0]!.n);
    } finally {
      await c.end();
    }
  };
  const drop = (database: string) => admin.unsafe(`drop database if exists "${database}" with (force)`);
  let n = 0;

  // (a) into a database created beforehand, as the target is stated; (a2) with `createdb` timed
  // too, as a restore by hand into a new database runs it (Coffer's restore creates one).
  const psql = async (createdb = false) => {
    const database = `baseline_${n++}`;
    if (!createdb) await admin.unsafe(`create database "${database}"`);
    const cpu = cpuMeter();
    const started = performance.now();
    if (createdb)
      execFileSync("createdb", [`--maintenance-db=${cluster.url("postgres")}`, database], { stdio: "ignore" });
    execFileSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", cluster.url(database), "-f", dumpFile], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    const s = (performance.now() - started) / 1000;
    if (!createdb) cpuOf.psql.push(cpu());
    const restored = await count(database);
    await drop(database);
    if (restored !== rows) throw new Error(`psql restored ${restored} rows, not ${rows}`);
    return s;
  };

  const rss = { before: 0, peakGrowth: 0, peak: 0 };
  const cpuOf = { psql: [] as Cpu[], coffer: [] as Cpu[] };
  let phases = "";
  const coffer = async () => {
    const database = `coffer_${n++}`;
    const { id } = await requestDatabaseRestore(t, {
      backupId,
      member,
      serverId,
      connectionSourceId: sourceId,
      targetDatabase: database,
      mode: "new",
    });
    const start = process.memoryUsage().rss;
    let peak = start;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    const cpu = cpuMeter();
    const started = performance.now();
    e.send([restoreEvent({ teamId: t.id, serverId, restoreId: id, kind: "database" })]);
    await e.idle();
    const s = (performance.now() - started) / 1000;
    cpuOf.coffer.push(cpu());
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    if (peak - start > rss.peakGrowth) Object.assign(rss, { before: start, peak, peakGrowth: peak - start });
    const r = await getRestore(t, id);
    if (r.status !== "succeeded") throw new Error(`restore ${r.status}: ${r.error}`);
    phases = phasesOf(r.log, started, performance.timeOrigin);
    const restored = await count(database);
    await drop(database);
    if (restored !== rows) throw new Error(`Coffer restored ${restored} rows, not ${rows}`);
    return s;
  };

  const rounds = 5;
  const times = { psql: [] as number[], createdb: [] as number[], coffer: [] as number[] };
  await coffer(); // warm-up: page cache, JIT
  cpuOf.coffer.length = 0;
  for (let i = 0; i < rounds; i++) {
    times.psql.push(await psql());
    times.createdb.push(await psql(true));
    times.coffer.push(await coffer());
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const [ps, cd, co] = [median(times.psql), median(times.createdb), median(times.coffer)];
  const MiB = 1024 * 1024;
  const dumpMiB = statSync(dumpFile).size / MiB;
  const storedMiB = (backup.archiveBytes ?? backup.sizeBytes!) / MiB;
  console.log(
    `restore bench: ${rows} rows, dump ${dumpMiB.toFixed(0)} MiB of SQL, stored object ${storedMiB.toFixed(0)} MiB (encrypted), ${rounds} rounds (medians), node ${process.version}\n`,
  );
  console.log(
    `  (a) psql -f dump.sql into a fresh database   ${ps.toFixed(2).padStart(6)} s   runs ${times.psql.map((x) => x.toFixed(1)).join(" / ")}`,
  );
  console.log(
    `  (a2) createdb, then the same psql -f         ${cd.toFixed(2).padStart(6)} s   runs ${times.createdb.map((x) => x.toFixed(1)).join(" / ")}`,
  );
  console.log(
    `  (b) Coffer restore into a new database       ${co.toFixed(2).padStart(6)} s   runs ${times.coffer.map((x) => x.toFixed(1)).join(" / ")}`,
  );
  console.log(
    `\n  Coffer / psql: ${(co / ps).toFixed(2)}× (target ≤ 1.05×); Coffer / (createdb, psql): ${(co / cd).toFixed(2)}×`,
  );
  console.log(`  where Coffer's time went (last run): ${phases}`);
  if (cpuOf.psql[0]!.machine !== null) {
    const range = (xs: number[], digits = 1) => {
      const [lo, hi] = [Math.min(...xs).toFixed(digits), Math.max(...xs).toFixed(digits)];
      return lo === hi ? lo : `${lo}–${hi}`;
    };
    const [p, c] = [cpuOf.psql, cpuOf.coffer];
    console.log(
      `  CPU used during the runs, in seconds (lowest–highest): (a) the machine ${range(p.map((x) => x.machine!))}, psql ${range(p.map((x) => x.children))};` +
        ` (b) the machine ${range(c.map((x) => x.machine!))}, this process ${range(c.map((x) => x.self))}` +
        ` (garbage-collection pauses ${range(c.map((x) => x.gc))} in ${range(
          c.map((x) => x.markCompacts),
          0,
        )} mark-compacts), psql and igzip ${range(c.map((x) => x.children))}`,
    );
  }
  console.log(
    `  RSS during a Coffer restore: +${(rss.peakGrowth / MiB).toFixed(0)} MiB at most (${(rss.before / MiB).toFixed(0)} → ${(rss.peak / MiB).toFixed(0)} MiB; dump ${dumpMiB.toFixed(0)} MiB)`,
  );
} finally {
  engine?.stop();
  await admin.end();
  await closeDatabase();
  await cluster.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
}

interface Cpu {
  machine: number | null; // every process's, Linux only (PostgreSQL's backend included)
  self: number; // this process, its worker threads included
  children: number; // the commands it ran and waited for (psql, igzip)
  gc: number; // this thread's garbage-collection pauses (incremental marking's steps between them are not counted)
  markCompacts: number;
}

/** Starts measuring CPU; the returned function says how much was used since, in seconds. */
function cpuMeter(): () => Cpu {
  const machine = () => {
    if (!existsSync("/proc/stat")) return null;
    const [user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8")
      .split("\n")[0]!
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / 100; // USER_HZ
  };
  const children = () => {
    if (!existsSync("/proc/self/stat")) return 0;
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat
      .slice(stat.lastIndexOf(") ") + 2)
      .split(" ")
      .map(Number); // after the command's name
    return (fields[13]! + fields[14]!) / 100; // cutime + cstime
  };
  const [m0, c0, s0] = [machine(), children(), process.cpuUsage()];
  const gc = new GCProfiler();
  gc.start();
  return () => {
    const stats = gc.stop()?.statistics ?? [];
    const s = process.cpuUsage(s0);
    const m = machine();
    return {
      machine: m === null || m0 === null ? null : m - m0,
      self: (s.user + s.system) / 1e6,
      children: children() - c0,
      gc: stats.reduce((n, x) => n + x.cost, 0) / 1e6, // microseconds
      markCompacts: stats.filter((x) => x.gcType === "MarkSweepCompact").length,
    };
  };
}

/** The restore's steps as offsets from the moment it was dispatched, from the run log's times. */
function phasesOf(log: { message: string; createdAt: Date }[], started: number, origin: number): string {
  const at = (re: RegExp) => log.find((l) => re.test(l.message))?.createdAt.getTime();
  const marks: [string, number | undefined][] = [
    ["loading", at(/^Loading /)],
    ["loaded", at(/^Loaded\./)],
    ["renaming", at(/^Renaming /)],
    ["done", log.at(-1)?.createdAt.getTime()],
  ];
  return marks
    .filter(([, t]) => t !== undefined)
    .map(([label, t]) => `${label} +${((t! - origin - started) / 1000).toFixed(2)} s`)
    .join(", ");
}

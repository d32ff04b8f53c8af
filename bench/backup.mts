// npm run bench:backup [-- <rows> [<rounds>]]   (default 2 000 000 rows, 3 rounds: about 350 MB of SQL per database)
// The whole backup pipeline (pg_dump on this host as the server → compressed spool → archive →
// envelope or OpenPGP message → local-disk destination) on two databases: `events` (one table of md5 text) and
// `mixed` (jsonb, numerics, indexes, text that compresses well and text that does not). Next to
// it, the shell pipelines a user would script, all run alternately in this process: medians.
// Prints figures only: times, ratios against the baselines, stored sizes, the work folder's peak
// use during Coffer's runs, the app's RSS growth, and where Coffer's time goes.
import { execFileSync } from "node:child_process";
import { lstatSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { embeddedCoffer } from "./embedded";

const rows = Number(process.argv[2] ?? 2_000_000);
const rounds = Number(process.argv[3] ?? 3);
const dataDir = embeddedCoffer("backup");
// The server's work folder: outside Coffer's data folder, as Coffer requires.
const workDir = mkdtempSync(path.join(tmpdir(), "coffer-bench-work-"));

const { startPgCluster } = await import("../test/pg-cluster");
const { signUp } = await import("@/lib/auth/users");
const { teamForUser } = await import("@/lib/teams/context");
const { createServer } = await import("@/lib/servers/mutations");
const { createSource } = await import("@/lib/servers/source-mutations");
const { createDestination } = await import("@/lib/destinations/mutations");
const { requestBackup } = await import("@/lib/backups/mutations");
const { addTeamKey } = await import("@/lib/openpgp/team-keys");
const { getBackup } = await import("@/lib/backups/queries");
const { inProcessEngine } = await import("@/inngest/in-process");
const { backupEvent } = await import("@/inngest/events");
const { closeDatabase } = await import("@/lib/db");

/** The databases, `rows` scaling both to about the same size of SQL. */
const DATABASES: Record<string, string> = {
  events: `create table events (id bigint primary key, at timestamptz, kind text, payload text);
    insert into events select g, now() - g * interval '1 second', 'kind-' || (g % 17), md5(g::text) || md5((g * 7)::text) || repeat(' lorem ipsum', 5) from generate_series(1, ${rows}) g;`,
  mixed: `create table customers (id bigint primary key, email text not null unique, name text not null, country char(2), created_at timestamptz not null, balance numeric(14,2) not null);
    insert into customers select g, 'user' || g || '@example.com', initcap(md5(g::text)), (array['DE','FR','US','GB','NL','SE','JP'])[1 + g % 7], timestamptz '2020-01-01' + g * interval '17 minutes', round((random() * 10000)::numeric, 2) from generate_series(1, ${rows / 10}) g;
    create table orders (id bigint primary key, customer_id bigint not null references customers, placed_at timestamptz not null, total numeric(12,2) not null, status text not null, items jsonb not null);
    insert into orders select g, 1 + (g::bigint * 7919) % ${rows / 10}, timestamptz '2021-01-01' + g * interval '31 seconds', round((random() * 500)::numeric, 2), (array['new','paid','shipped','delivered','refunded'])[1 + g % 5],
      jsonb_build_array(jsonb_build_object('sku', 'SKU-' || (g % 5000), 'qty', 1 + g % 4, 'price', round((random() * 100)::numeric, 2)), jsonb_build_object('sku', 'SKU-' || ((g * 13) % 5000), 'qty', 1, 'price', round((random() * 50)::numeric, 2), 'gift', g % 9 = 0))
      from generate_series(1, ${(rows * 9) / 20}) g;
    create index orders_customer_idx on orders (customer_id);
    create index orders_placed_idx on orders (placed_at);
    create table events (id bigint primary key, at timestamptz not null, kind text not null, payload jsonb not null);
    insert into events select g, timestamptz '2024-01-01' + g * interval '1 second', 'event.' || (g % 23), jsonb_build_object('ip', '10.' || (g % 256) || '.' || ((g / 256) % 256) || '.' || (g % 251), 'agent', 'Mozilla/5.0 (X11; Linux x86_64) build ' || (g % 97), 'ms', (random() * 900)::int, 'ok', g % 11 <> 0) from generate_series(1, ${(rows * 7) / 20}) g;
    create index events_kind_at_idx on events (kind, at);
    create table documents (id int primary key, title text not null, body text not null);
    insert into documents select g, 'Document ' || g, repeat('The quick brown fox jumps over the lazy dog. ', 20 + g % 40) || md5(g::text) from generate_series(1, ${rows / 50}) g;
    create table samples (id int primary key, digest text not null, noise text not null, reading double precision not null);
    insert into samples select g, encode(sha256(g::text::bytea), 'hex'), encode(decode(md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text), 'hex'), 'base64'), random() * 1e6 from generate_series(1, ${(rows * 3) / 20}) g;
    analyze;`,
};

const cluster = await startPgCluster();
const gnupg = mkdtempSync(path.join(dataDir, "gnupg-"));
try {
  for (const [name, sql] of Object.entries(DATABASES)) {
    const admin = postgres(cluster.url("postgres"), { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const c = postgres(cluster.url(name), { max: 1, onnotice: () => {} });
    await c.unsafe(sql);
    await c.end();
  }
  // The runbook encrypts with gpg to a recipient's public key.
  execFileSync("gpg", ["--homedir", gnupg, "--batch", "--passphrase", "", "--quick-gen-key", "bench@example.test"], {
    stdio: "ignore",
  });

  const { userId, teamSlug } = await signUp({
    name: "Bench",
    email: "bench@example.test",
    password: "bench-password-1",
    teamName: "Bench",
  });
  const t = await teamForUser({ userId, label: "bench@example.test", ip: null }, teamSlug, "owner");
  const { id: serverId } = await createServer(t, { kind: "local", name: "bench-host", workDir });
  const sourceIds: Record<string, string> = {};
  for (const name of Object.keys(DATABASES)) {
    const { id } = await createSource(t, {
      serverId,
      kind: "postgres",
      name,
      pgHost: "127.0.0.1",
      pgPort: cluster.port,
      pgDatabase: name,
      pgUser: "postgres",
      pgSslmode: "disable",
    });
    sourceIds[name] = id;
  }
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk" });
  // The team key OpenPGP backups (f) are encrypted to, as an admin adds it.
  await addTeamKey(t, {
    key: execFileSync("gpg", ["--homedir", gnupg, "--export", "--armor", "bench@example.test"]).toString(),
  });
  const engine = await inProcessEngine();

  // The app's peak RSS per mode: (d) unencrypted, (e) Coffer's format, (f) OpenPGP.
  const rss = { before: process.memoryUsage().rss, peak: { d: 0, e: 0, f: 0 } };
  const coffer = async (database: string, encrypted: boolean, encryption: "coffer" | "openpgp" = "coffer") => {
    const mode = !encrypted ? "d" : encryption === "coffer" ? "e" : "f";
    const { id } = await requestBackup(t, {
      serverId,
      sourceIds: [sourceIds[database]!],
      destinationIds: [destinationId],
      encrypted,
      encryption,
      compression: "fast",
    });
    let disk = 0;
    const sampler = setInterval(() => {
      disk = Math.max(disk, usedBytes(workDir));
      rss.peak[mode] = Math.max(rss.peak[mode], process.memoryUsage().rss);
    }, 25);
    const started = performance.now();
    engine.send([backupEvent({ teamId: t.id, serverId, backupId: id })]);
    await engine.idle();
    const s = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const b = await getBackup(t, id);
    if (b.status !== "succeeded") throw new Error(`backup ${b.status}: ${b.error}`);
    return { s, stored: b.sizeBytes!, archive: b.archiveBytes!, disk, phases: phasesOf(b.log, b.startedAt!) };
  };
  const pgDump = (database: string) => `pg_dump -h 127.0.0.1 -p ${cluster.port} -U postgres ${database}`;
  const out = path.join(dataDir, "out");
  const shell = (script: string) => {
    const started = performance.now();
    execFileSync("sh", ["-c", script], { env: { ...process.env, GNUPGHOME: gnupg } });
    const s = (performance.now() - started) / 1000;
    const bytes = statSync(out).size;
    rmSync(out);
    return { s, bytes };
  };
  const gpg = "gpg --batch --trust-model always --compress-algo none -e -r bench@example.test";
  const baselines = {
    file: (db: string) => shell(`${pgDump(db)} > ${out}`),
    igzip: (db: string) => shell(`${pgDump(db)} | igzip -1 > ${out}`),
    pigz: (db: string) => shell(`${pgDump(db)} | pigz -6 > ${out}`),
    gzip: (db: string) => shell(`${pgDump(db)} | gzip -6 > ${out}`),
    runbook: (db: string) => shell(`${pgDump(db)} | gzip -6 | ${gpg} > ${out}`),
  };

  await coffer("events", false); // warm-up: page cache, JIT
  rss.before = process.memoryUsage().rss;
  rss.peak = { d: 0, e: 0, f: 0 };
  const MiB = 1024 * 1024;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
  const report: string[] = [];
  for (const db of Object.keys(DATABASES)) {
    const times = {
      file: [] as number[],
      igzip: [] as number[],
      pigz: [] as number[],
      runbook: [] as number[],
      plain: [] as number[],
    };
    const enc: Awaited<ReturnType<typeof coffer>>[] = [];
    const pgp: Awaited<ReturnType<typeof coffer>>[] = [];
    let pigzBytes = 0;
    for (let i = 0; i < rounds; i++) {
      times.file.push(baselines.file(db).s);
      times.igzip.push(baselines.igzip(db).s);
      const p = baselines.pigz(db);
      times.pigz.push(p.s);
      pigzBytes = p.bytes;
      times.runbook.push(baselines.runbook(db).s);
      times.plain.push((await coffer(db, false)).s);
      enc.push(await coffer(db, true));
      pgp.push(await coffer(db, true, "openpgp"));
    }
    const gzipBytes = baselines.gzip(db).bytes; // the size reference, once
    const [file, igzip, pigz, runbook, plain] = [times.file, times.igzip, times.pigz, times.runbook, times.plain].map(
      median,
    ) as number[];
    const encrypted = median(enc.map((e) => e.s));
    const openpgp = median(pgp.map((e) => e.s));
    const last = enc.at(-1)!;
    const disk = Math.max(...enc.map((e) => e.disk));
    const row = (label: string, s: number, extra = "") =>
      `  ${label.padEnd(44)} ${s.toFixed(2).padStart(6)} s  ${(s / file).toFixed(2)}× file  ${(s / pigz).toFixed(2)}× pigz${extra}`;
    report.push(
      `${db}: ${mib(Number(execFileSync("sh", ["-c", `${pgDump(db)} | wc -c`]).toString()))} of SQL`,
      row("(a) pg_dump > file", file),
      row("(a1) pg_dump | igzip -1 > file (no hashing)", igzip),
      row("(b) pg_dump | pigz -6 > file", pigz, `   ${mib(pigzBytes)}`),
      row("(c) pg_dump | gzip -6 | gpg -e > file", runbook),
      row("(d) Coffer, unencrypted (fast)", plain),
      row("(e) Coffer, encrypted (fast)", encrypted, `   ${mib(last.stored)} stored`),
      row("(f) Coffer, OpenPGP to the team key (fast)", openpgp, `   ${mib(pgp.at(-1)!.stored)} stored`),
      `  runs (e): ${enc.map((e) => e.s.toFixed(2)).join(" / ")}; (a): ${times.file.map((x) => x.toFixed(2)).join(" / ")}`,
      `  targets: (e) ≤ 1.1× (b): ${(encrypted / pigz).toFixed(2)}×; (e) ≤ 1.15× (a): ${(encrypted / file).toFixed(2)}× (the compressor alone, (a1): ${(igzip / file).toFixed(2)}×); encryption ${(((encrypted - plain) / plain) * 100).toFixed(1)}% (≤ 2%); (f) ≤ 1.15× (e): ${(openpgp / encrypted).toFixed(2)}×`,
      `  size: the archive ${mib(last.archive)} vs pg_dump | gzip -6 ${mib(gzipBytes)}: ${(((last.archive - gzipBytes) / gzipBytes) * 100).toFixed(1)}% (within 5%)`,
      `  work folder's peak use during Coffer's runs: ${mib(disk)} (the compressed archive: ${mib(last.archive)})`,
      `  where (e)'s time went (last run): ${last.phases}`,
      `  where (f)'s time went (last run): ${pgp.at(-1)!.phases}`,
      "",
    );
  }
  console.log(
    `backup bench: ${rows} rows per database, ${rounds} rounds (medians), node ${process.version}, gzip tools: ${tools()}\n`,
  );
  console.log(report.join("\n"));
  const growth = (mode: keyof typeof rss.peak) => `+${mib(Math.max(0, rss.peak[mode] - rss.before))}`;
  console.log(
    `app RSS: ${mib(rss.before)} before the runs; peak growth during (d) ${growth("d")}, (e) ${growth("e")}, (f) ${growth("f")} (each ≤ 150 MiB)`,
  );
  engine.stop();
} finally {
  await closeDatabase();
  await cluster.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
}

/** Bytes of the files under `dir` (the private folder while a run holds it). */
function usedBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    try {
      const st = lstatSync(path.join(dir, name));
      if (st.isFile()) total += st.size;
    } catch {
      // removed meanwhile
    }
  }
  return total;
}

/** The run's steps as offsets from its start, from the run log's times. */
function phasesOf(log: { message: string; createdAt: Date }[], startedAt: Date): string {
  const at = (re: RegExp) => log.find((l) => re.test(l.message))?.createdAt.getTime();
  const marks: [string, number | undefined][] = [
    ["dump started", at(/^Dumping /)],
    ["dumped", at(/^Dumped /)],
    ["streaming", at(/^Streaming the archive/)],
    ["folder removed", at(/^Private folder removed/)],
    ["succeeded", at(/^Succeeded/)],
  ];
  return marks
    .filter(([, t]) => t !== undefined)
    .map(([label, t]) => `${label} +${((t! - startedAt.getTime()) / 1000).toFixed(2)} s`)
    .join(", ");
}

function tools() {
  return ["igzip", "pigz", "gzip"]
    .filter((t) => {
      try {
        execFileSync("sh", ["-c", `command -v ${t}`], { stdio: "ignore" });
        return true;
      } catch {
        return false;
      }
    })
    .join(", ");
}

// npm run bench:download [-- <MiB>]   (default 1024: a 1 GiB backup)
// Downloads of one backup through lib's download stream (storage read, decryption) into a sink, in
// this process: encrypted against unencrypted of the same plaintext. The baseline is reading the
// stored object: the unencrypted backup's download reads it as it is, checking its SHA-256 on the
// way. Runs alternate; medians and peak RSS. Prints figures only.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import tarStream from "tar-stream";
import { embeddedCoffer } from "./embedded";

const MiB = 1024 * 1024;
const total = Number(process.argv[2] ?? 1024) * MiB;
const rounds = 3;
const dataDir = embeddedCoffer("download");

const { signUp } = await import("@/lib/auth/users");
const { teamForUser } = await import("@/lib/teams/context");
const { createServer } = await import("@/lib/servers/mutations");
const { createDestination } = await import("@/lib/destinations/mutations");
const { importUpload } = await import("@/lib/backups/upload");
const { openDownload } = await import("@/lib/backups/download");
const { closeDatabase } = await import("@/lib/db");

/** A `.tar.gz` of one file of random bytes (gzip level 0: the archive is about as large as the file). */
function archive(): Readable {
  const pack = tarStream.pack();
  const block = randomBytes(MiB);
  const entry = pack.entry({ name: "blob.bin", size: total }, () => pack.finalize());
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      sent += block.length;
      if (!entry.write(block)) return void entry.once("drain", pump);
    }
    entry.end();
  };
  pump();
  return pack.pipe(createGzip({ level: 0 }));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rate = (bytes: number, s: number) => bytes / MiB / s;
const email = "bench@example.test";
const password = "bench-password-1";

const { userId, teamSlug } = await signUp({ name: "Bench", email, password, teamName: "Bench" });
const t = await teamForUser({ userId, label: email, ip: null }, teamSlug, "owner");
const { id: serverId } = await createServer(t, { kind: "local", name: "bench-host", workDir: "/tmp" });
const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk" });
const upload = (encrypted: boolean) =>
  importUpload(t, { serverId, destinationIds: [destinationId], encrypted, fileName: "bench.tar.gz" }, archive());
const backups = { plain: await upload(false), encrypted: await upload(true) };
const size = backups.plain.sizeBytes;

const sink = () =>
  new Writable({
    highWaterMark: MiB,
    write(_b, _e, cb) {
      cb();
    },
  });
let peak = 0;
const download = async (id: string) => {
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const started = performance.now();
  await pipeline((await openDownload(t, id, null)).body!, sink());
  clearInterval(sampler);
  return rate(size, (performance.now() - started) / 1000);
};
const times = { plain: [] as number[], encrypted: [] as number[] };
await download(backups.encrypted.id); // warm-up
const rss0 = process.memoryUsage().rss;
peak = rss0;
for (let i = 0; i < rounds; i++) {
  times.plain.push(await download(backups.plain.id));
  times.encrypted.push(await download(backups.encrypted.id));
}
const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)} %`;
const row = (label: string, xs: number[]) =>
  console.log(
    `  ${label.padEnd(44)} ${median(xs).toFixed(0).padStart(5)} MiB/s   (${xs.map((x) => x.toFixed(0)).join(", ")})`,
  );
console.log(
  `download bench: ${(size / MiB).toFixed(0)} MiB .tar.gz, ${rounds} rounds (medians), node ${process.version}`,
);
row("unencrypted (reading and hashing the stored object)", times.plain);
row("encrypted (reading and decrypting)", times.encrypted);
console.log(
  `ratio (decrypting download / reading the stored object): ${pct(median(times.encrypted), median(times.plain))}`,
);
console.log(
  `RSS: ${(rss0 / MiB).toFixed(0)} MiB before the downloads, peak ${(peak / MiB).toFixed(0)} MiB during them`,
);
await closeDatabase();
rmSync(dataDir, { recursive: true, force: true });

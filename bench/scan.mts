// npm run bench:scan [-- <thousands of objects>]   (default 200: 200,000 unrelated objects)
// Scan for backups over a "this host's disk" destination holding one encrypted backup among many
// unrelated files, through lib's scan (listing, header and manifest reads). The baseline is the
// same scan of a twentieth of the objects: the peak memory above the start should not grow with
// the number of objects. Prints figures only.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { createGzip } from "node:zlib";
import tarStream from "tar-stream";
import { embeddedCoffer } from "./embedded";

const MiB = 1024 * 1024;
const total = Number(process.argv[2] ?? 200) * 1000;
const dataDir = embeddedCoffer("scan");

const { signUp } = await import("@/lib/auth/users");
const { teamForUser } = await import("@/lib/teams/context");
const { createServer } = await import("@/lib/servers/mutations");
const { createDestination } = await import("@/lib/destinations/mutations");
const { importUpload } = await import("@/lib/backups/upload");
const { scanDestination } = await import("@/lib/catalogue/scan");
const { closeDatabase } = await import("@/lib/db");

const email = "bench@example.test";
const { userId, teamSlug } = await signUp({ name: "Bench", email, password: "bench-password-1", teamName: "Bench" });
const t = await teamForUser({ userId, label: email, ip: null }, teamSlug, "owner");
const { id: serverId } = await createServer(t, { kind: "local", name: "bench-host", workDir: "/tmp" });

/** An uploaded archive without a manifest: the scan reads its header and first segment and lists it as damaged. */
function archive(): Readable {
  const pack = tarStream.pack();
  pack.entry({ name: "note.txt" }, "hello");
  pack.finalize();
  return pack.pipe(createGzip());
}

/** A destination with one encrypted backup and `n` unrelated files, 1000 to a folder. */
async function destination(name: string, n: number) {
  const { id } = await createDestination(t, { kind: "local", name, prefix: name });
  await importUpload(t, { serverId, destinationIds: [id], encrypted: true, fileName: "b.tar.gz" }, archive());
  const root = path.join(dataDir, "storage", t.id, name, "unrelated");
  for (let i = 0; i < n; i++) {
    if (i % 1000 === 0) mkdirSync(path.join(root, String(i / 1000)), { recursive: true });
    writeFileSync(path.join(root, String(Math.floor(i / 1000)), `object-${i}.bin`), "x");
  }
  return id;
}

async function scan(id: string) {
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const started = performance.now();
  let listed = 0;
  let backups = 0;
  await scanDestination(t, id, {}, (e) => {
    if (e.type === "done") [listed, backups] = [e.listed, e.backups];
  });
  clearInterval(sampler);
  return { listed, backups, seconds: (performance.now() - started) / 1000, growth: (peak - rss0) / MiB };
}

const small = await destination("small", total / 20);
const large = await destination("large", total);
await scan(small); // warm-up
const base = await scan(small);
const big = await scan(large);
const line = (label: string, r: typeof base) =>
  console.log(
    `  ${label.padEnd(10)} ${String(r.listed).padStart(8)} objects listed (${r.backups} named like a backup) in ${r.seconds.toFixed(1)} s, ` +
      `${((r.listed / r.seconds) | 0).toLocaleString()} objects/s, peak RSS +${r.growth.toFixed(1)} MiB over the start`,
  );
console.log(`scan bench: "this host's disk", node ${process.version}`);
line("baseline", base);
line("measured", big);
console.log(
  `ratio (objects listed): ${(big.listed / base.listed).toFixed(0)}×; ratio (peak RSS growth): ${(big.growth / Math.max(base.growth, 1)).toFixed(2)}× (a floor of 1 MiB for the baseline)`,
);
await closeDatabase();
rmSync(dataDir, { recursive: true, force: true });

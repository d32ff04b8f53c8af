// npm run bench:large [-- <GiB> [s3] [azure]]   (default 20 GiB to each; run it under the heavy lock)
// One generated stream of <GiB> (incompressible, made 1 MiB at a time) written through Coffer's own
// S3 and Azure adapters, as a backup writes (no size hint: parts start at 8 MiB and grow), to
// s3rver and Azurite started here, then read back whole and its SHA-256 compared, and deleted at
// once. Prints the write throughput, the part sizes used and the app's peak RSS growth during the
// write (target ≤ 300 MB). s3rver copies the parts into the object when the upload completes, so it
// needs twice the size on disk; a provider whose disk room is short is skipped, saying so.
import { statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { BlobServiceClient } from "@azure/storage-blob";
import { createAdapter, type StorageAdapter } from "@/lib/storage";
import { startAzurite } from "../test/servers/azurite";
import { startS3rver } from "../test/servers/s3rver";
import { generatedSource, hashStream, rssMeter } from "../test/streams";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const gib = Number(process.argv[2] ?? 20);
if (!(gib > 0)) throw new Error(`Give the size in GiB (a positive number), not "${process.argv[2]}".`);
const chosen = process.argv.slice(3);
const providers = chosen.length ? chosen : ["s3", "azure"];
const size = Math.round(gib * GiB);

/** The room each test server needs on this disk for one object of `size`, with 2 GiB to spare. */
const DISK_FACTOR: Record<string, number> = { s3: 2, azure: 1 };

async function run(name: string, adapter: StorageAdapter) {
  const key = `large/${Date.now()}.bin`;
  let shown = 0;
  const src = generatedSource(size, {
    onProgress: (sent) => {
      if (sent - shown < size / 10 && sent < size) return;
      shown = sent;
      process.stderr.write(`  ${name}: ${Math.round((sent / size) * 100)}% sent\n`);
    },
  });
  const stop = rssMeter();
  const started = performance.now();
  const stored = await adapter.put(key, src.stream);
  const s = (performance.now() - started) / 1000;
  const memory = stop();
  const head = await adapter.head(key);
  const readStarted = performance.now();
  const back = await hashStream(await adapter.get(key));
  const readS = (performance.now() - readStarted) / 1000;
  await adapter.delete(key);
  const sha256 = src.sha256();
  const intact = stored.size === size && head?.size === size && back.size === size && back.sha256 === sha256;
  if (!intact) throw new Error(`${name}: the object read back differs from what was sent`);
  console.log(
    [
      `${name}: ${(size / GiB).toFixed(2)} GiB written in ${s.toFixed(1)} s: ${(size / MiB / s).toFixed(0)} MiB/s`,
      `  read back and SHA-256 compared in ${readS.toFixed(1)} s (${(size / MiB / readS).toFixed(0)} MiB/s): identical; deleted`,
      `  ${stored.parts?.length ?? 1} parts: ${partSummary(stored.parts ?? [size])}`,
      `  app RSS during the write: ${memory.baseMB} MB before, peak ${memory.peakMB} MB: +${memory.growthMB} MB (target ≤ 300 MB)`,
    ].join("\n"),
  );
}

/** "8 MiB × 1200, 16 MiB × 600, 3.2 MiB × 1" in upload order. */
function partSummary(parts: number[]): string {
  const runs: [number, number][] = [];
  for (const p of parts) {
    const last = runs.at(-1);
    if (last && last[0] === p) last[1]++;
    else runs.push([p, 1]);
  }
  return runs.map(([p, n]) => `${+(p / MiB).toFixed(2)} MiB × ${n}`).join(", ");
}

function diskRoomFor(name: string): string | undefined {
  const fs = statfsSync(tmpdir());
  const free = fs.bavail * fs.bsize;
  const need = DISK_FACTOR[name]! * size + 2 * GiB;
  if (free >= need) return undefined;
  return `${name}: skipped, its test server needs ${(need / GiB).toFixed(1)} GiB in ${tmpdir()} and ${(free / GiB).toFixed(1)} GiB are free`;
}

console.log(`large-object bench: ${gib} GiB to ${providers.join(", ")}, node ${process.version}\n`);
for (const name of providers) {
  const short = diskRoomFor(name);
  if (short) {
    console.log(short);
    continue;
  }
  if (name === "s3") {
    const s3 = await startS3rver();
    try {
      await run(
        "s3 (s3rver)",
        createAdapter({
          kind: "s3",
          bucket: s3.bucket,
          region: s3.region,
          endpoint: s3.endpoint,
          accessKeyId: s3.accessKeyId,
          secretAccessKey: s3.secretAccessKey,
        }),
      );
    } finally {
      await s3.stop();
    }
  } else if (name === "azure") {
    const azure = await startAzurite();
    try {
      await BlobServiceClient.fromConnectionString(azure.connectionString).getContainerClient("large").create();
      await run(
        "azure (Azurite)",
        createAdapter({ kind: "azure", container: "large", connectionString: azure.connectionString }),
      );
    } finally {
      await azure.stop();
    }
  } else throw new Error(`Unknown provider "${name}": choose s3 or azure.`);
}

// npx tsx --conditions=react-server bench/envelope.mts [MiB]
// Throughput of the backup envelope (lib/crypto/envelope.ts) against what the same process does
// without it: a raw fs copy and a plain PassThrough, on disk (page cache) and in memory. Prints figures only.
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough, Readable, Writable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { newDataKey, wrapDek } from "@/lib/crypto/data-key";
import { createDecryptStream, createEncryptStream } from "@/lib/crypto/envelope";
import type { Keyring } from "@/lib/crypto/master-keys";

const MiB = 1024 * 1024;
const total = Number(process.argv[2] ?? 512) * MiB;
const master = { id: "bench", key: randomBytes(32) };
const keys: Keyring = { active: master, byId: new Map([[master.id, master]]), source: "MASTER_KEYS" };
const ids = { teamId: "team_bench", backupId: "bkp_bench" };
const dir = mkdtempSync(path.join(tmpdir(), "coffer-bench-"));
const file = (name: string) => path.join(dir, name);

function generate(): Readable {
  const block = randomBytes(64 * 1024);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const b = Buffer.from(block);
      b.writeUInt32BE(sent / b.length, 0);
      sent += b.length;
      this.push(b);
    },
  });
}

const sink = () =>
  new Writable({
    write(_b, _e, cb) {
      cb();
    },
  });

const encryptor = (): Transform => {
  const dek = newDataKey();
  return createEncryptStream({ dek, wrapped: wrapDek(dek, keys, ids.teamId, ids.backupId), ...ids });
};

async function time(label: string, run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  const s = (performance.now() - t0) / 1000;
  const mbps = total / MiB / s;
  console.log(`${label.padEnd(44)} ${s.toFixed(2).padStart(6)} s  ${mbps.toFixed(0).padStart(6)} MiB/s`);
  return mbps;
}

try {
  console.log(`envelope bench: ${total / MiB} MiB, segment size 1 MiB, node ${process.version}\n`);
  await pipeline(generate(), createWriteStream(file("plain")));
  await pipeline(createReadStream(file("plain")), encryptor(), createWriteStream(file("warm.enc"))); // warm up

  console.log("in memory (generated → transform → discard):");
  const memPass = await time("  passthrough", () => pipeline(generate(), new PassThrough(), sink()));
  const memEnc = await time("  encrypt", () => pipeline(generate(), encryptor(), sink()));
  const memBoth = await time("  encrypt → decrypt", () =>
    pipeline(generate(), encryptor(), createDecryptStream({ keys }), sink()),
  );

  console.log("files (page cache; read → transform → write):");
  const copy = await time("  raw fs copy", () =>
    pipeline(createReadStream(file("plain")), createWriteStream(file("copy"))),
  );
  const pass = await time("  passthrough", () =>
    pipeline(createReadStream(file("plain")), new PassThrough(), createWriteStream(file("copy"))),
  );
  const enc = await time("  encrypt", () =>
    pipeline(createReadStream(file("plain")), encryptor(), createWriteStream(file("obj.enc"))),
  );
  const dec = await time("  decrypt", () =>
    pipeline(createReadStream(file("obj.enc")), createDecryptStream({ keys }), createWriteStream(file("copy"))),
  );

  const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
  console.log("\nratios (throughput relative to the baseline):");
  console.log(`  in memory: encrypt ${pct(memEnc, memPass)} of passthrough; encrypt+decrypt ${pct(memBoth, memPass)}`);
  console.log(
    `  files:     encrypt ${pct(enc, copy)} of raw copy, ${pct(enc, pass)} of passthrough; decrypt ${pct(dec, copy)} of raw copy, ${pct(dec, pass)} of passthrough`,
  );
  console.log(`  CPU cost:  encrypt ≈ ${((1 / memEnc - 1 / memPass) * 1000).toFixed(2)} ms per MiB over passthrough`);
  console.log(`\npeak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

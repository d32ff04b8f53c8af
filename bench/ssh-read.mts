// npm run bench:ssh-read [-- <MiB>]   (default 100)
// Reading a file on a server over SSH (a real sshd on 127.0.0.1): Coffer's Reach.readFile (`cat` on
// an exec channel) next to ssh2's own fastest SFTP download (`fastGet`, many requests in flight) of
// the same file, and next to the local reach's read of it as the baseline. Runs alternate; medians
// of the time and of this process's CPU. Prints figures only.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import type { SFTPWrapper } from "ssh2";
import { startSshd } from "../test/servers/sshd";

const { connectSsh } = await import("@/lib/reach/ssh/connect");
const { localReach } = await import("@/lib/reach");

const MiB = 1024 * 1024;
const size = Number(process.argv[2] ?? 100) * MiB;
const rounds = 5;
const dir = mkdtempSync(path.join(tmpdir(), "coffer-bench-ssh-read-"));
const file = path.join(dir, "backup.bin");
writeFileSync(file, randomBytes(size));
const sshd = await startSshd();
const { reach } = await connectSsh({
  host: sshd.host,
  port: sshd.port,
  username: sshd.username,
  privateKey: sshd.privateKey,
  allowPrivateNetworks: true,
});
try {
  const client = (reach as unknown as { client: import("ssh2").Client }).client;
  const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
    client.sftp((err, s) => (err ? reject(err) : resolve(s))),
  );
  const drain = async (s: Readable) => {
    let n = 0;
    for await (const c of s) n += (c as Buffer).length;
    if (n !== size) throw new Error(`read ${n} bytes, not ${size}`);
  };
  const ways: [string, () => Promise<void>][] = [
    ["local reach readFile (baseline)", async () => drain(await localReach().readFile(file))],
    ["SSH reach readFile (cat)", async () => drain(await reach.readFile(file))],
    [
      "ssh2 SFTP fastGet",
      () =>
        new Promise<void>((resolve, reject) =>
          sftp.fastGet(file, path.join(dir, "copy.bin"), (err) => (err ? reject(err) : resolve())),
        ),
    ],
  ];
  const figures = ways.map(() => ({ s: [] as number[], cpu: [] as number[] }));
  for (let r = 0; r < rounds; r++)
    for (const [i, [, run]] of ways.entries()) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await run();
      figures[i]!.s.push((performance.now() - t0) / 1000);
      const c = process.cpuUsage(c0);
      figures[i]!.cpu.push((c.user + c.system) / 1e6);
    }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(figures[0]!.s);
  console.log(
    `\nReading ${size / MiB} MiB over SSH on 127.0.0.1, ${rounds} alternating rounds (medians), node ${process.version}`,
  );
  for (const [i, [name]] of ways.entries()) {
    const s = median(figures[i]!.s);
    console.log(
      `  ${name.padEnd(34)} ${s.toFixed(2).padStart(6)} s  ${(s / base).toFixed(1).padStart(5)}×  CPU of this process ${median(figures[i]!.cpu).toFixed(2)} s`,
    );
  }
} finally {
  await reach.close();
  await sshd.stop();
  rmSync(dir, { recursive: true, force: true });
}

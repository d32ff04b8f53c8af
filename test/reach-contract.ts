/**
 * The behaviour every Reach must have, run by lib/reach/ssh/ssh.int.test.ts against a real sshd and
 * by lib/reach/local.int.test.ts against localReach(). The SSH server runs on this machine, so the
 * tests can look at its processes and files directly.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Reach, RunningCommand } from "@/lib/reach";
import { hostileArguments } from "./hostile-arguments";
import { processesMatching, uniqueSleep, waitUntilGone } from "./processes";

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function finish(cmd: RunningCommand) {
  const [stdout, stderr, exit] = await Promise.all([collect(cmd.stdout), collect(cmd.stderr), cmd.exit]);
  return { stdout: stdout.toString("utf8"), stderr: stderr.toString("utf8"), ...exit };
}

async function firstOutput(cmd: RunningCommand, text: string): Promise<void> {
  let seen = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) {
        cmd.stdout.off("data", onData);
        resolve();
      }
    };
    cmd.stdout.on("data", onData);
    cmd.stdout.once("error", reject);
    cmd.exit.catch(reject);
  });
}

export function reachContract(name: string, getReach: () => Reach, opts: { streamMiB?: number } = {}) {
  const streamMiB = opts.streamMiB ?? 200;

  describe(`${name}: exec`, () => {
    let dataDir: string;
    let work: string;

    beforeAll(() => {
      work = mkdtempSync(path.join(tmpdir(), "coffer-reach-"));
      dataDir = path.join(work, "data");
      mkdirSync(dataDir);
      // Incompressible files, so nothing along the way can shortcut the bytes.
      const files = 8;
      for (let i = 0; i < files; i++)
        writeFileSync(path.join(dataDir, `part-${i}.bin`), randomBytes((streamMiB * 1024 * 1024) / files));
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    it(`streams ~${streamMiB} MiB of \`tar cf -\` byte-exact with flat memory`, async () => {
      const argv = [
        "tar",
        "cf",
        "-",
        "--sort=name",
        "--mtime=@0",
        "--owner=0",
        "--group=0",
        "--numeric-owner",
        "-C",
        dataDir,
        ".",
      ];
      // The same command run directly (not through a Reach) gives the expected bytes.
      const expected = await new Promise<{ bytes: number; sha: string }>((resolve, reject) => {
        const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
        const hash = createHash("sha256");
        let bytes = 0;
        child.stdout.on("data", (d: Buffer) => {
          bytes += d.length;
          hash.update(d);
        });
        child.on("error", reject);
        child.on("close", (code) =>
          code === 0 ? resolve({ bytes, sha: hash.digest("hex") }) : reject(new Error(`tar exited ${code}`)),
        );
      });

      global.gc?.();
      const before = process.memoryUsage().rss;
      let peak = before;
      const started = Date.now();
      const cmd = getReach().exec(argv);
      const hash = createHash("sha256");
      let bytes = 0;
      let chunks = 0;
      for await (const chunk of cmd.stdout) {
        bytes += (chunk as Buffer).length;
        hash.update(chunk as Buffer);
        if (++chunks % 64 === 0) peak = Math.max(peak, process.memoryUsage().rss);
      }
      const exit = await cmd.exit;
      peak = Math.max(peak, process.memoryUsage().rss);
      const seconds = (Date.now() - started) / 1000;
      const growthMiB = (peak - before) / 1024 / 1024;
      console.log(
        `[${name}] tar cf - : ${bytes} bytes in ${seconds.toFixed(2)} s (${(bytes / 1024 / 1024 / seconds).toFixed(0)} MiB/s), ` +
          `RSS before ${(before / 1024 / 1024).toFixed(0)} MiB, peak ${(peak / 1024 / 1024).toFixed(0)} MiB, growth ${growthMiB.toFixed(1)} MiB`,
      );
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(bytes).toBe(expected.bytes);
      expect(bytes).toBeGreaterThan(streamMiB * 1024 * 1024);
      expect(hash.digest("hex")).toBe(expected.sha);
      expect(growthMiB).toBeLessThan(100);
    });

    it("stdout survives Readable.toWeb() to the last byte", async () => {
      const file = path.join(dataDir, "part-0.bin");
      const expected = readFileSync(file);
      const cmd = getReach().exec(["cat", file]);
      const web = Readable.toWeb(cmd.stdout) as ReadableStream<Uint8Array>;
      const received = Buffer.from(await new Response(web).arrayBuffer());
      expect((await cmd.exit).code).toBe(0);
      expect(received.length).toBe(expected.length);
      expect(received.equals(expected)).toBe(true);
    });

    it("passes exit codes, stdout and stderr through", async () => {
      const r = await finish(getReach().exec(["sh", "-c", "echo out; echo err >&2; echo more-err >&2; exit 3"]));
      expect(r).toMatchObject({
        code: 3,
        signal: null,
        stdout: "out\n",
        stderr: "err\nmore-err\n",
        stderrTail: "err\nmore-err\n",
      });
      const ok = await finish(getReach().exec(["true"]));
      expect(ok).toMatchObject({ code: 0, stdout: "", stderr: "" });
    });

    it("reports a missing program as exit 127 and a missing cwd as 125", async () => {
      const missing = await finish(getReach().exec(["coffer-no-such-program", "--version"]));
      expect(missing.code).toBe(127);
      expect(missing.stderrTail).toMatch(/coffer-no-such-program.*not found/);
      const noDir = await finish(getReach().exec(["pwd"], { cwd: "/nonexistent-coffer-dir" }));
      expect(noDir.code).toBe(125);
      expect(noDir.stderrTail).toMatch(/nonexistent-coffer-dir/);
    });

    it("runs in cwd, with env values (secrets) delivered exactly", async () => {
      expect((await finish(getReach().exec(["pwd"], { cwd: work }))).stdout).toBe(`${work}\n`);
      const canary = path.join(work, "pwned-env");
      const secret = `s3cr'et "dq" $(touch ${canary}) \`touch ${canary}\` ; | & Grüße`;
      const r = await finish(
        getReach().exec(["sh", "-c", 'printf "%s|%s" "$PGPASSWORD" "$OTHER"; ps -eo args'], {
          env: { PGPASSWORD: secret, OTHER: "" },
        }),
      );
      expect(r.code).toBe(0);
      expect(r.stdout.startsWith(`${secret}|`)).toBe(true);
      // The secret is in no process's command line.
      expect(r.stdout.slice(secret.length + 1)).not.toContain("s3cr");
      expect(existsSync(canary)).toBe(false);
      await expect(async () => getReach().exec(["true"], { env: { "BAD NAME": "x" } })).rejects.toMatchObject({
        code: "VALIDATION",
      });
      await expect(async () => getReach().exec(["true"], { env: { X: "a\nb" } })).rejects.toThrow(
        /cannot contain NUL or newline/,
      );
      await expect(async () => getReach().exec(["pwd"], { cwd: "relative/dir" })).rejects.toThrow(/absolute path/);
      await expect(async () => getReach().exec([])).rejects.toMatchObject({ code: "VALIDATION" });
    });

    it("feeds stdin when asked, and /dev/null otherwise", async () => {
      const payload = randomBytes(3 * 1024 * 1024 + 17);
      const cmd = getReach().exec(["sh", "-c", "cat; echo done >&2"], { stdin: true, env: { A: "1" } });
      cmd.stdin!.end(payload);
      const r = await Promise.all([collect(cmd.stdout), cmd.exit]);
      expect(r[1]).toMatchObject({ code: 0, stderrTail: "done\n" });
      expect(r[0].equals(payload)).toBe(true);
      const noInput = await finish(getReach().exec(["wc", "-c"]));
      expect(noInput.stdout.trim()).toBe("0");
    });

    it("passes hostile arguments through unchanged and runs none of them", async () => {
      const canary = path.join(tmpdir(), `pwned-${randomBytes(4).toString("hex")}`);
      const hostile = hostileArguments(canary);
      // One command per argument (in parallel: several channels on one connection).
      const each = await Promise.all(hostile.map((arg) => finish(getReach().exec(["printf", "%s\\n", arg]))));
      each.forEach((r, i) => {
        expect(r.stdout, JSON.stringify(hostile[i])).toBe(`${hostile[i]}\n`);
        expect(r.code).toBe(0);
      });
      // All at once, NUL-separated.
      const all = await finish(getReach().exec(["printf", "%s\\0", ...hostile]));
      expect(all.stdout.split("\0").slice(0, -1)).toEqual(hostile);
      // echo for the ones echo can print literally (no leading dash, no backslash).
      const echoable = hostile.filter((a) => !a.startsWith("-") && !a.includes("\\"));
      const echoed = await Promise.all(echoable.map((arg) => finish(getReach().exec(["echo", arg]))));
      echoed.forEach((r, i) => expect(r.stdout, JSON.stringify(echoable[i])).toBe(`${echoable[i]}\n`));
      // Hostile program names and working directories are just names that do not exist.
      expect((await finish(getReach().exec([`true; touch ${canary}`]))).code).toBe(127);
      expect((await finish(getReach().exec(["pwd"], { cwd: `/tmp/$(touch ${canary})` }))).code).toBe(125);
      // The same through a pipeline.
      const piped = await finish(getReach().execPipeline([["printf", "%s\\0", ...hostile], ["cat"]]));
      expect(piped.stdout.split("\0").slice(0, -1)).toEqual(hostile);
      expect(existsSync(canary)).toBe(false);
    });

    it("pipelines connect stages and report failures like pipefail", async () => {
      const up = await finish(getReach().execPipeline([["printf", "%s", "hello"], ["tr", "a-z", "A-Z"], ["cat"]]));
      expect(up).toMatchObject({ code: 0, stdout: "HELLO" });
      const first = await finish(
        getReach().execPipeline([["sh", "-c", "echo partial; echo boom >&2; exit 3"], ["cat"]]),
      );
      expect(first).toMatchObject({ code: 3, stdout: "partial\n" });
      expect(first.stderrTail).toContain("boom");
      const rightmost = await finish(
        getReach().execPipeline([["sh", "-c", "exit 2"], ["sh", "-c", "cat >/dev/null; exit 5"], ["cat"]]),
      );
      expect(rightmost.code).toBe(5);
      const missing = await finish(getReach().execPipeline([["coffer-no-such-program"], ["cat"]]));
      expect(missing.code).toBe(127);
    });

    it("cancellation kills the command and its children, and settles quickly", async () => {
      const marker = uniqueSleep();
      const controller = new AbortController();
      const cmd = getReach().exec(["sh", "-c", `echo started; sleep ${marker}; echo never`], {
        signal: controller.signal,
      });
      await firstOutput(cmd, "started");
      expect(processesMatching(`sleep ${marker}`).length).toBeGreaterThan(0);
      const t0 = Date.now();
      controller.abort(new Error("user cancelled"));
      await expect(cmd.exit).rejects.toThrow("user cancelled");
      const settledMs = Date.now() - t0;
      expect(settledMs).toBeLessThan(3000);
      expect(await waitUntilGone(`sleep ${marker}`)).toEqual([]);
      expect(cmd.stdout.destroyed).toBe(true);
      console.log(`[${name}] cancel settled in ${settledMs} ms`);
    });

    it("cancellation works for pipelines, for commands reading stdin, and before start", async () => {
      const a = uniqueSleep();
      const b = uniqueSleep();
      const controller = new AbortController();
      const pipe = getReach().execPipeline([["sh", "-c", `echo started; sleep ${a}`], ["cat"]], {
        signal: controller.signal,
      });
      const withStdin = getReach().exec(["sh", "-c", `echo started; sleep ${b}; cat`], {
        signal: controller.signal,
        stdin: true,
      });
      await Promise.all([firstOutput(pipe, "started"), firstOutput(withStdin, "started")]);
      controller.abort();
      await expect(pipe.exit).rejects.toMatchObject({ name: "AbortError" });
      await expect(withStdin.exit).rejects.toMatchObject({ name: "AbortError" });
      expect(await waitUntilGone(`sleep ${a}`)).toEqual([]);
      expect(await waitUntilGone(`sleep ${b}`)).toEqual([]);

      const already = getReach().exec(["sleep", "5"], { signal: AbortSignal.abort() });
      await expect(already.exit).rejects.toMatchObject({ name: "AbortError" });
    });

    it("stops the command when the consumer destroys stdout", async () => {
      const marker = uniqueSleep();
      const cmd = getReach().exec(["sh", "-c", `echo started; sleep ${marker}`]);
      await firstOutput(cmd, "started");
      cmd.stdout.destroy(new Error("upload failed"));
      await expect(cmd.exit).rejects.toThrow("upload failed");
      expect(await waitUntilGone(`sleep ${marker}`)).toEqual([]);
    });
  });

  describe(`${name}: files`, () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), "coffer-reach-files-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("round-trips a few MiB and an empty file", async () => {
      const body = randomBytes(5 * 1024 * 1024 + 123);
      const target = path.join(dir, "backup.bin");
      await getReach().writeFile(target, Readable.from([body.subarray(0, 1000), body.subarray(1000)]));
      expect(readFileSync(target).equals(body)).toBe(true);
      expect(statSync(target).mode & 0o777).toBe(0o600);
      expect((await collect(await getReach().readFile(target))).equals(body)).toBe(true);

      const empty = path.join(dir, "empty");
      await getReach().writeFile(empty, Readable.from([]), { mode: 0o640 });
      expect(statSync(empty).size).toBe(0);
      expect(statSync(empty).mode & 0o777).toBe(0o640);
      expect((await collect(await getReach().readFile(empty))).length).toBe(0);

      // Replacing an existing file.
      await getReach().writeFile(target, Readable.from([Buffer.from("v2")]));
      expect(readFileSync(target, "utf8")).toBe("v2");
      expect(readdirSync(dir).sort()).toEqual(["backup.bin", "empty"]);
    });

    it("a write failing half-way leaves nothing at the target and no temporary file", async () => {
      const target = path.join(dir, "half.bin");
      async function* failing() {
        yield randomBytes(1024 * 1024);
        yield randomBytes(1024 * 1024);
        throw new Error("source broke");
      }
      await expect(getReach().writeFile(target, Readable.from(failing()))).rejects.toThrow("source broke");
      expect(existsSync(target)).toBe(false);
      expect(readdirSync(dir).filter((f) => f.includes("half"))).toEqual([]);

      // An existing file keeps its old content when the replacement fails.
      writeFileSync(target, "old");
      await expect(getReach().writeFile(target, Readable.from(failing()))).rejects.toThrow("source broke");
      expect(readFileSync(target, "utf8")).toBe("old");
      expect(readdirSync(dir).filter((f) => f.includes("half"))).toEqual(["half.bin"]);

      // Aborted.
      const controller = new AbortController();
      async function* slow() {
        yield randomBytes(64 * 1024);
        controller.abort(new Error("stop writing"));
        await new Promise((r) => setTimeout(r, 100));
        yield randomBytes(64 * 1024);
      }
      await expect(
        getReach().writeFile(path.join(dir, "aborted.bin"), Readable.from(slow()), { signal: controller.signal }),
      ).rejects.toThrow("stop writing");
      expect(readdirSync(dir).filter((f) => f.includes("aborted"))).toEqual([]);
    });

    it("a read stopped half-way errors instead of ending, and one given up leaves nothing running", async () => {
      const file = path.join(dir, "big.bin");
      writeFileSync(file, randomBytes(32 * 1024 * 1024));
      const controller = new AbortController();
      const stream = await getReach().readFile(file, { signal: controller.signal });
      const ended = new Promise((resolve) => stream.once("end", () => resolve("ended")));
      await new Promise((resolve) => stream.once("data", resolve));
      controller.abort(new Error("stop reading"));
      await expect(Promise.race([ended, collect(stream)])).rejects.toThrow("stop reading");

      (await getReach().readFile(file)).destroy();
      expect(await waitUntilGone(`cat -- ${file}`)).toEqual([]);

      // The same for a range.
      const stop = new AbortController();
      const ranged = await getReach().readFile(file, { signal: stop.signal, range: { start: 10, length: 20_000_000 } });
      await new Promise((resolve) => ranged.once("data", resolve));
      stop.abort(new Error("stop reading the range"));
      await expect(collect(ranged)).rejects.toThrow("stop reading the range");
      (await getReach().readFile(file, { range: { start: 10, length: 20_000_000 } })).destroy();
      expect(await waitUntilGone(`dd if=${file}`)).toEqual([]);
      rmSync(file);
    });

    it("reads exactly a range's bytes, and errors when the file is shorter than the range", async () => {
      const body = randomBytes(3 * 1024 * 1024 + 77);
      const file = path.join(dir, "ranged.bin");
      writeFileSync(file, body);
      for (const [start, length] of [
        [0, 1],
        [100, 65_536], // the program stops reading long before the file's end
        [1024 * 1024 - 7, 2 * 1024 * 1024],
        [body.length - 1, 1],
        [5, 0],
        [body.length, 0],
      ] as const) {
        const got = await collect(await getReach().readFile(file, { range: { start, length } }));
        expect(got.equals(body.subarray(start, start + length)), `${start}+${length}`).toBe(true);
      }
      const short = await getReach().readFile(file, { range: { start: body.length - 10, length: 20 } });
      await expect(collect(short)).rejects.toThrow(/ended after 10 of the 20 bytes asked for/);
      await expect(getReach().readFile(path.join(dir, "nope"), { range: { start: 0, length: 5 } })).rejects.toThrow(
        /nope does not exist/,
      );
      await expect(getReach().readFile(file, { range: { start: -1, length: 5 } })).rejects.toMatchObject({
        code: "VALIDATION",
      });
      rmSync(file);
    });

    it("says clearly when a file or folder does not exist", async () => {
      await expect(getReach().readFile(path.join(dir, "nope"))).rejects.toThrow(/nope does not exist/);
      await expect(getReach().readFile(dir)).rejects.toThrow(/is a folder, not a file/);
      await expect(
        getReach().writeFile(path.join(dir, "no-folder", "x"), Readable.from([Buffer.from("x")])),
      ).rejects.toThrow(/The folder .*no-folder does not exist/);
    });
  });
}

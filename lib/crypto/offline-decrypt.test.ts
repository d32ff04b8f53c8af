import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { afterAll, describe, expect, it } from "vitest";
import { newDataKey, wrapDek } from "./data-key";
import { createEncryptStream } from "./envelope";
import { parseMasterKeys, type Keyring } from "./master-keys";

// `coffer decrypt` in disaster recovery: what it says about a file that is not a backup, a damaged
// header, and what an interrupted run leaves. Run as the package's bin, from another folder.

const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "scripts/coffer-bin.mjs");
const dir = mkdtempSync(path.join(tmpdir(), "coffer-offline-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const masterKeys = `k1:${randomBytes(32).toString("base64")}`;
const keyFile = path.join(dir, "keys");
writeFileSync(keyFile, `${masterKeys}\n`);
const keys: Keyring = (() => {
  const [k] = parseMasterKeys(masterKeys);
  return { active: k!, byId: new Map([[k!.id, k!]]), source: "MASTER_KEYS" };
})();
const S = 4096;

async function seal(plain: Buffer): Promise<Buffer> {
  const dek = newDataKey();
  const wrapped = wrapDek(dek, keys, "team_off", "bkp_off");
  return buffer(
    Readable.from([plain]).pipe(
      createEncryptStream({ dek, wrapped, teamId: "team_off", backupId: "bkp_off", segmentSize: S }),
    ),
  );
}

const cli = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: dir }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });

let n = 0;
/** `coffer decrypt` of `bytes`; what it printed, and what it left at the output path. */
async function decrypt(bytes: Buffer) {
  const object = path.join(dir, `object-${++n}`);
  const out = path.join(dir, `out-${n}.tar.gz`);
  writeFileSync(object, bytes);
  const r = await cli(["decrypt", "--master-keys", keyFile, object, out]);
  return { ...r, object, left: [out, `${out}.partial`].filter((f) => existsSync(f)) };
}

describe("coffer decrypt", () => {
  it("says what a file that is not a backup is, instead of calling it a damaged one", async () => {
    const tarGz = execFileSync("tar", ["czf", "-", "-C", root, "package.json"]);
    const s3Error = Buffer.from(
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>',
    );
    const cases: [string, Buffer, RegExp][] = [
      ["an empty file", Buffer.alloc(0), /is empty \(0 bytes\): download the backup again/],
      ["an unencrypted .tar.gz", tarGz, /is an unencrypted \.tar\.gz: it needs no decrypting; extract it with tar xzf/],
      ["an S3 error body", s3Error, /neither a Coffer backup nor an OpenPGP one \(it looks like XML or HTML\)/],
      // The keys file given by mistake: what it holds is not printed.
      ["the master keys", Buffer.from(`k1:${randomBytes(32).toString("base64")}\n`), /\(it looks like text\)/],
    ];
    for (const [what, bytes, message] of cases) {
      const r = await decrypt(bytes);
      expect({ what, code: r.code, left: r.left }).toEqual({ what, code: 1, left: [] });
      expect(r.stderr, what).toMatch(message);
      expect(r.stderr, what).not.toMatch(/OpenPGP integrity|MDC|damaged/);
      if (bytes.length > 8) expect(r.stderr, what).not.toContain(bytes.subarray(0, 8).toString("latin1"));
    }
  });

  it("names a damaged header as a possible cause when the key id or a bound id changed", async () => {
    const plain = randomBytes(2 * S + 5);
    const object = await seal(plain);
    const good = await decrypt(object);
    expect(good.stderr).toBe("");
    expect(readFileSync(good.left[0]!).equals(plain)).toBe(true);

    const keyIdAt = 24; // after the 23 fixed bytes and the key id's length byte: "k1" → "j1"
    expect(object.subarray(keyIdAt, keyIdAt + 2).toString()).toBe("k1");
    const otherKeyId = Buffer.from(object);
    otherKeyId[keyIdAt]! ^= 1;
    const keyIdFlipped = await decrypt(otherKeyId);
    expect(keyIdFlipped.code).toBe(1);
    expect(keyIdFlipped.stderr).toMatch(/names master key "j1", which is not among the keys given \(k1\)/);
    expect(keyIdFlipped.stderr).toMatch(/the header is damaged: use another copy/);
    expect(keyIdFlipped.left).toEqual([]);

    const backupIdAt = object.indexOf("bkp_off");
    const otherBackupId = Buffer.from(object);
    otherBackupId[backupIdAt + 4]! ^= 1;
    const backupIdFlipped = await decrypt(otherBackupId);
    expect(backupIdFlipped.code).toBe(1);
    expect(backupIdFlipped.stderr).toMatch(
      /did not unwrap with master key "k1": that key is wrong, or the header is damaged \(use another copy\)/,
    );
    expect(backupIdFlipped.left).toEqual([]);
  }, 30_000);

  it("refuses to start over the partial file an interrupted run left, saying what it is", async () => {
    const object = path.join(dir, "again.enc");
    writeFileSync(object, await seal(randomBytes(10)));
    const out = path.join(dir, "again.tar.gz");
    writeFileSync(`${out}.partial`, "part of an earlier run");
    const r = await cli(["decrypt", "--master-keys", keyFile, object, out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${out}.partial already exists: an interrupted coffer decrypt left it, and it is not a complete backup. Delete it and run again.`,
    );
    expect(r.stderr).not.toContain("EEXIST");
    expect(readFileSync(`${out}.partial`, "utf8")).toBe("part of an earlier run");
    expect(existsSync(out)).toBe(false);
  });

  /**
   * Starts `coffer decrypt` of an object the test feeds through a named pipe (so it decides how much
   * has been read), stops it with `stop` once it has written part of the plaintext, and answers
   * what it said and left.
   */
  async function stopped(name: string, stop: (child: ChildProcess) => void) {
    const object = await seal(randomBytes(8 * S));
    const fifo = path.join(dir, `${name}.enc`);
    execFileSync("mkfifo", [fifo]);
    const out = path.join(dir, `${name}.tar.gz`);
    // In its own process group, as a terminal's Ctrl-C signals the whole foreground group.
    const child = spawn(process.execPath, [bin, "decrypt", "--master-keys", keyFile, fifo, out], {
      cwd: dir,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    // Every process of the group writes to these pipes: they close once the last has exited.
    const closed = new Promise((resolve) => child.once("close", resolve));
    const writer = await open(fifo, "w");
    try {
      await writer.write(object.subarray(0, object.length - 2 * S));
      for (let i = 0; i < 400 && !(existsSync(`${out}.partial`) && statSync(`${out}.partial`).size > 0); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(statSync(`${out}.partial`).size).toBeGreaterThan(0);
      stop(child);
      for (let i = 0; i < 200 && !stderr.includes("Stopped"); i++) await new Promise((r) => setTimeout(r, 50));
      // Until the pipe's writer closes, a read of the pipe keeps the CLI from exiting.
      await writer.close();
      await closed;
    } finally {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // the group is gone, as it should be
      }
      await writer.close().catch(() => {});
    }
    return { stderr, out, code: child.exitCode };
  }

  it("removes the plaintext it wrote so far when stopped with Ctrl-C", async () => {
    const { stderr, out } = await stopped("ctrl-c", (child) => process.kill(-child.pid!, "SIGINT"));
    expect(stderr).toContain(`Stopped (SIGINT); removed ${out}.partial.`);
    expect(existsSync(`${out}.partial`)).toBe(false);
    expect(existsSync(out)).toBe(false);
  }, 30_000);

  it("removes it too when its own process alone is told to stop (kill <pid>, a service manager)", async () => {
    const { stderr, out, code } = await stopped("killed", (child) => child.kill("SIGTERM"));
    expect(stderr).toContain(`Stopped (SIGTERM); removed ${out}.partial.`);
    expect(existsSync(`${out}.partial`)).toBe(false);
    expect(existsSync(out)).toBe(false);
    expect(code).toBe(143);
  }, 30_000);
});

import "server-only";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { utils } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { freePort } from "@/test/ports";
import { startSshd, type TestSshd } from "@/test/servers/sshd";
import { processesMatching, uniqueSleep, waitUntilGone } from "@/test/processes";
import { collect, reachContract } from "@/test/reach-contract";
import { ReachError } from "../errors";
import type { Reach } from "../types";
import { connectSsh, type ConnectSshOptions, type SshConnection } from "./connect";

let sshd: TestSshd;
let conn: SshConnection;

const base = (): ConnectSshOptions => ({
  host: sshd.host,
  port: sshd.port,
  username: sshd.username,
  privateKey: sshd.privateKey,
  allowPrivateNetworks: true,
  connectTimeoutMs: 10_000,
});

/** The non-root user, by password. */
const asPasswordUser = () =>
  connectSsh({ ...base(), privateKey: undefined, username: sshd.passwordUser, password: sshd.password });

beforeAll(async () => {
  sshd = await startSshd();
  conn = await connectSsh(base());
});
afterAll(async () => {
  await conn?.reach.close();
  await sshd?.stop();
});

/** The error a connection attempt fails with; also checks that no secret leaked into it. */
async function connectError(opts: ConnectSshOptions): Promise<ReachError | AppError> {
  const error = await connectSsh(opts).then(
    async (c) => {
      await c.reach.close();
      throw new Error("expected the connection to fail");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  const text = `${(error as Error).message} ${(error as Error).stack} ${JSON.stringify(error)}`;
  for (const secret of [opts.password, opts.passphrase, opts.privateKey]) {
    if (!secret) continue;
    expect(text).not.toContain(secret);
    for (const line of secret.split("\n").filter((l) => l.length > 20)) expect(text).not.toContain(line);
  }
  return error as AppError;
}

describe("ssh: connecting", () => {
  it("trusts on first use: returns the fingerprint as ssh-keygen prints it, then accepts it pinned", async () => {
    expect(conn.hostKey).toBe(sshd.hostKeyFingerprint);
    expect(conn.hostKeyType).toBe("ssh-ed25519");
    expect(conn.address).toBe("127.0.0.1");
    const again = await connectSsh({ ...base(), pinnedHostKey: sshd.hostKeyFingerprint });
    expect(again.hostKey).toBe(sshd.hostKeyFingerprint);
    await again.reach.close();
  });

  it("logs in with a password", async () => {
    const c = await asPasswordUser();
    const cmd = c.reach.exec(["id", "-un"]);
    const [out, exit] = await Promise.all([collect(cmd.stdout), cmd.exit]);
    expect(exit.code).toBe(0);
    expect(out.toString().trim()).toBe(sshd.passwordUser);
    await c.reach.close();
  });

  it("wrong key: says the key was refused, without the key", async () => {
    const other = utils.generateKeyPairSync("ed25519").private;
    const error = await connectError({ ...base(), privateKey: other });
    expect(error).toBeInstanceOf(ReachError);
    expect(error).toMatchObject({ code: "UPSTREAM", reason: "auth-failed" });
    expect(error.message).toBe(
      `Authentication failed for user "root" on 127.0.0.1:${sshd.port} with the private key: the server did not accept it. Add the matching public key to that user's ~/.ssh/authorized_keys, and check the user name.`,
    );
  });

  it("wrong password: says the password was refused, without the password", async () => {
    const password = `${sshd.password}-wrong-Zq9`;
    const error = await connectError({ ...base(), privateKey: undefined, username: sshd.passwordUser, password });
    expect(error).toMatchObject({ code: "UPSTREAM", reason: "auth-failed" });
    expect(error.message).toBe(
      `Authentication failed for user "${sshd.passwordUser}" on 127.0.0.1:${sshd.port} with a password: wrong password (or password logins are disabled for this user). Check the user name and password.`,
    );
  });

  it("an unreadable private key or a missing passphrase is a validation error", async () => {
    const error = await connectError({
      ...base(),
      privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nnot really a key\n-----END OPENSSH PRIVATE KEY-----\n",
    });
    expect(error).toMatchObject({ code: "VALIDATION", reason: "invalid-key" });
    expect(error.message).toMatch(/^The private key could not be read/);
    const encrypted = utils.generateKeyPairSync("ed25519", {
      passphrase: "pass-phrase-123",
      cipher: "aes256-ctr",
      rounds: 16,
    }).private;
    const noPass = await connectError({ ...base(), privateKey: encrypted });
    expect(noPass.message).toBe("The private key is protected by a passphrase: enter the passphrase too.");
    const badPass = await connectError({ ...base(), privateKey: encrypted, passphrase: "wrong-passphrase-456" });
    expect(badPass.message).toBe("The private key could not be decrypted: the passphrase is wrong.");
  });

  it("unknown host", async () => {
    const error = await connectError({ ...base(), host: "nonexistent.invalid" });
    expect(error).toMatchObject({ code: "UPSTREAM", reason: "unknown-host" });
    expect(error.message).toBe(
      'Unknown host "nonexistent.invalid": the name does not resolve (DNS). Check the host name for typos.',
    );
  });

  it("connection refused", async () => {
    const port = await freePort();
    const error = await connectError({ ...base(), port });
    expect(error).toMatchObject({ code: "UPSTREAM", reason: "refused" });
    expect(error.message).toBe(
      `Connection refused by 127.0.0.1:${port}: nothing accepts connections on port ${port}. Check the host and the SSH port, and that sshd is running.`,
    );
  });

  it("timed out (a server that never speaks SSH)", async () => {
    const sockets = new Set<import("node:net").Socket>();
    const closed = new Set<import("node:net").Socket>();
    const silent: Server = createServer((s) => {
      sockets.add(s);
      s.resume();
      s.on("error", () => {});
      s.on("close", () => closed.add(s));
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as { port: number }).port;
    try {
      const t0 = Date.now();
      const error = await connectError({ ...base(), port, connectTimeoutMs: 1000 });
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(error).toMatchObject({ code: "UPSTREAM", reason: "timeout" });
      expect(error.message).toBe(
        `Timed out after 1 s connecting to 127.0.0.1:${port}. Check that the server is up and that its firewall lets Coffer reach the SSH port.`,
      );
      // Coffer hung up: the server sees its socket closed.
      await new Promise((r) => setTimeout(r, 100));
      expect(sockets.size).toBe(1);
      expect(closed.size).toBe(1);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it("refuses private addresses unless allowed", async () => {
    const error = await connectError({ ...base(), allowPrivateNetworks: false });
    expect(error.code).toBe("VALIDATION");
    expect(error.message).toMatch(/^Coffer does not connect to 127\.0\.0\.1: it is a loopback address/);
    const viaName = await connectError({ ...base(), host: "localhost", allowPrivateNetworks: false });
    expect(viaName.message).toMatch(/localhost \(127\.0\.0\.1\).*loopback/);
  });

  it("abort while connecting rejects with the abort reason", async () => {
    await expect(connectSsh({ ...base(), signal: AbortSignal.abort(new Error("stop")) })).rejects.toThrow("stop");
    const controller = new AbortController();
    const pending = connectSsh({ ...base(), signal: controller.signal });
    controller.abort(new Error("stop later"));
    await expect(pending).rejects.toThrow("stop later");
  });
});

reachContract("ssh", () => conn.reach);

describe("ssh: session behaviour", () => {
  it("works the same for a non-root user whose login shell is /bin/sh", async () => {
    const c = await asPasswordUser();
    try {
      const piped = c.reach.execPipeline([
        ["sh", "-c", "printf 'a;b'; exit 7"],
        ["tr", ";", "\n"],
      ]);
      const [out, exit] = await Promise.all([collect(piped.stdout), piped.exit]);
      expect(out.toString()).toBe("a\nb");
      expect(exit.code).toBe(7);
      for (const stdin of [false, true]) {
        const marker = uniqueSleep();
        const controller = new AbortController();
        const cmd = c.reach.exec(["sh", "-c", `echo started; sleep ${marker}`], { signal: controller.signal, stdin });
        await new Promise((r) => cmd.stdout.once("data", r));
        controller.abort();
        await expect(cmd.exit).rejects.toMatchObject({ name: "AbortError" });
        expect(await waitUntilGone(`sleep ${marker}`)).toEqual([]);
      }
    } finally {
      await c.reach.close();
    }
  });

  it("says when the SSH user may not read a file", async () => {
    const c = await asPasswordUser();
    const dir = mkdtempSync(path.join(tmpdir(), "coffer-ssh-read-"));
    chmodSync(dir, 0o755);
    const file = path.join(dir, "root-only");
    writeFileSync(file, "secret", { mode: 0o600 });
    try {
      await expect(c.reach.readFile(file)).rejects.toThrow(
        `Permission denied: the SSH user cannot read ${file} on ${c.reach.label}.`,
      );
    } finally {
      await c.reach.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a read whose cat dies half-way errors instead of ending", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "coffer-ssh-read-"));
    const file = path.join(dir, "big.bin");
    writeFileSync(file, Buffer.alloc(64 * 1024 * 1024));
    try {
      const stream = await conn.reach.readFile(file);
      await new Promise((resolve) => stream.once("data", resolve));
      stream.pause();
      const [cat] = processesMatching(`cat -- ${file}`);
      process.kill(Number(/^\s*(\d+)/.exec(cat!)![1]), "SIGKILL");
      stream.resume();
      await expect(collect(stream)).rejects.toThrow(/Could not read .*big\.bin/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("close() kills remote commands that are still running", async () => {
    const c = await connectSsh(base());
    const marker = uniqueSleep();
    const cmd = c.reach.exec(["sleep", marker]);
    cmd.stdout.resume();
    const until = Date.now() + 3000;
    while (!processesMatching(`sleep ${marker}`).length && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    expect(processesMatching(`sleep ${marker}`).length).toBe(1);
    await c.reach.close();
    await expect(cmd.exit).rejects.toThrow(/closing/);
    expect(await waitUntilGone(`sleep ${marker}`)).toEqual([]);
    expect(() => c.reach.exec(["true"])).toThrow(/was closed/);
  });

  it("a lost connection fails running commands instead of ending their output cleanly", async () => {
    const c = await connectSsh(base());
    const marker = uniqueSleep();
    const cmd = c.reach.exec(["sh", "-c", `echo started; sleep ${marker}`]);
    const stdoutError = new Promise((resolve) => cmd.stdout.once("error", resolve));
    const started = new Promise((resolve) => cmd.stdout.once("data", resolve));
    cmd.stdout.resume();
    await started;
    // Kill the server-side sshd process of this connection (the ancestor of the remote command
    // whose command line starts with "sshd:"): like a network failure.
    const { execFileSync } = await import("node:child_process");
    const sleepPid = () => processesMatching(`sleep ${marker}`)[0]?.trim().split(/\s+/)[0];
    await expect.poll(sleepPid, { timeout: 10_000, interval: 50 }).toBeDefined(); // a loaded machine may start it late
    let pid = sleepPid();
    for (let i = 0; i < 5 && pid; i++) {
      pid = execFileSync("ps", ["-o", "ppid=", "-p", pid]).toString().trim();
      if (execFileSync("ps", ["-o", "args=", "-p", pid]).toString().startsWith("sshd:")) break;
    }
    expect(execFileSync("ps", ["-o", "args=", "-p", pid!]).toString()).toMatch(/^sshd: root@notty/);
    process.kill(Number(pid), "SIGKILL");
    await expect(cmd.exit).rejects.toMatchObject({ reason: "connection-lost" });
    await expect(stdoutError).resolves.toBeInstanceOf(Error);
    // …and the lifeline still kills the orphaned command on the server.
    expect(await waitUntilGone(`sleep ${marker}`)).toEqual([]);
    await c.reach.close();
  });
});

// Last: it restarts the server with a new host key.
describe("ssh: host key changed", () => {
  it("refuses before authenticating, shows the new fingerprint, and works once accepted", async () => {
    const old = conn.hostKey;
    const fresh = await sshd.rotateHostKey();
    expect(fresh).not.toBe(old);
    const error = await connectError({ ...base(), pinnedHostKey: old });
    expect(error).toBeInstanceOf(ReachError);
    expect(error).toMatchObject({ code: "UPSTREAM", reason: "host-key-changed", hostKey: fresh });
    expect(error.message).toBe(
      `The host key of 127.0.0.1:${sshd.port} changed: it now presents ${fresh} (ssh-ed25519), but ${old} was accepted before. ` +
        "The server may have been reinstalled — or someone may be intercepting the connection. Coffer did not log in; " +
        "an admin must accept the new fingerprint in Server settings.",
    );
    // The server never saw an authentication attempt from that connection.
    expect(sshd.log()).not.toMatch(/Accepted|Failed (publickey|password)|Postponed/);
    const accepted = await connectSsh({ ...base(), pinnedHostKey: fresh });
    const reach: Reach = accepted.reach;
    const cmd = reach.exec(["echo", "ok"]);
    expect((await collect(cmd.stdout)).toString()).toBe("ok\n");
    await reach.close();
  });
});

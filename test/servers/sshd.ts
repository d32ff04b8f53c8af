import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../ports";

/**
 * A real, throwaway OpenSSH server on 127.0.0.1 for integration tests.
 *
 * - Logs in as root with a fresh ed25519 client key (we run as root in CI and on dev containers).
 * - Password logins work for a dedicated local user, `coffer-ssh-test` (created with useradd if absent).
 *   Its password is random, chosen once per machine and kept in a root-only file so that test files
 *   running in parallel agree on it (each one setting its own would race).
 * - `rotateHostKey()` regenerates the host key and restarts on the same port (changed-host-key tests).
 */
export interface TestSshd {
  host: "127.0.0.1";
  port: number;
  /** root, authenticated by `privateKey`. */
  username: string;
  /** OpenSSH-format PEM ("-----BEGIN OPENSSH PRIVATE KEY-----"), ed25519, no passphrase. */
  privateKey: string;
  /** A local user that logs in with `password` (and also with `privateKey`). */
  passwordUser: string;
  password: string;
  /** As `ssh-keygen -l` prints it: "SHA256:…" (no padding). */
  hostKeyFingerprint: string;
  /** The temp folder holding keys, config and logs (deleted by stop()). */
  dir: string;
  /** sshd's own log (stderr, -e), last 20 kB — handy in assertion messages. */
  log(): string;
  /** New host key, restart on the same port; returns (and stores) the new fingerprint. */
  rotateHostKey(): Promise<string>;
  stop(): Promise<void>;
}

const SSHD = "/usr/sbin/sshd";
const PASSWORD_USER = "coffer-ssh-test";
const PASSWORD_FILE = "/var/lib/coffer-test-ssh/password";

function need(bin: string, pkg: string) {
  if (!existsSync(bin))
    throw new Error(
      `${bin} is missing: install it with \`apt-get install -y ${pkg}\` (the project's test script does).`,
    );
}

function run(file: string, args: string[], input?: string): string {
  try {
    return execFileSync(file, args, { input, stdio: ["pipe", "pipe", "pipe"] }).toString();
  } catch (error) {
    const e = error as { stderr?: Buffer; message: string };
    throw new Error(`${file} ${args.join(" ")} failed: ${e.stderr?.toString().trim() || e.message}`);
  }
}

function fingerprint(pubKeyFile: string): string {
  // "256 SHA256:abc… comment (ED25519)"
  const fp = run("ssh-keygen", ["-l", "-E", "sha256", "-f", pubKeyFile]).split(" ")[1];
  if (!fp?.startsWith("SHA256:")) throw new Error(`unexpected ssh-keygen -l output for ${pubKeyFile}`);
  return fp;
}

function newKey(file: string) {
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "coffer-test", "-f", file]);
}

/** The password user, created once per machine; returns its password. */
function ensurePasswordUser(): string {
  need("/usr/sbin/useradd", "passwd");
  need("/usr/sbin/chpasswd", "passwd");
  mkdirSync(path.dirname(PASSWORD_FILE), { recursive: true, mode: 0o700 });
  // Create the password file atomically (write a temp file, hard-link it in): the first process wins,
  // the others read the winner's password.
  const candidate = randomBytes(18).toString("base64url");
  const tmp = `${PASSWORD_FILE}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(tmp, candidate, { mode: 0o600 });
  try {
    linkSync(tmp, PASSWORD_FILE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    rmSync(tmp, { force: true });
  }
  const password = readFileSync(PASSWORD_FILE, "utf8").trim();
  try {
    execFileSync("id", ["-u", PASSWORD_USER], { stdio: "ignore" });
  } catch {
    try {
      execFileSync("useradd", ["--create-home", "--shell", "/bin/sh", PASSWORD_USER], { stdio: "pipe" });
    } catch (error) {
      // 9 = the user exists (another test file created it in the meantime).
      if ((error as { status?: number }).status !== 9)
        throw new Error(`useradd ${PASSWORD_USER} failed: ${String(error)}`);
    }
  }
  // Idempotent (same password every time), so concurrent callers do not disturb each other.
  run("chpasswd", [], `${PASSWORD_USER}:${password}\n`);
  return password;
}

function waitForBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    let data = "";
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on("data", (d) => {
      data += d.toString("latin1");
      if (data.includes("SSH-2.0-")) done(true);
    });
    sock.on("error", () => done(false));
    sock.on("close", () => done(data.includes("SSH-2.0-")));
  });
}

/** `maxSessions`: channels sshd allows on one connection (its own default is 10). */
export async function startSshd(o: { maxSessions?: number } = {}): Promise<TestSshd> {
  if (process.getuid?.() !== 0)
    throw new Error("startSshd needs root (it logs in as root and creates a local test user).");
  need(SSHD, "openssh-server");
  need("/usr/bin/ssh-keygen", "openssh-client");
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // privilege separation directory

  const dir = mkdtempSync(path.join(tmpdir(), "coffer-sshd-"));
  const hostKey = path.join(dir, "host_ed25519");
  const clientKey = path.join(dir, "client_ed25519");
  const authorizedKeys = path.join(dir, "authorized_keys");
  const config = path.join(dir, "sshd_config");
  try {
    newKey(hostKey);
    newKey(clientKey);
    writeFileSync(authorizedKeys, readFileSync(`${clientKey}.pub`), { mode: 0o600 });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const password = ensurePasswordUser();

  writeFileSync(
    config,
    [
      `HostKey ${hostKey}`,
      "ListenAddress 127.0.0.1",
      `PidFile ${path.join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      "StrictModes no",
      "PermitRootLogin yes",
      "PubkeyAuthentication yes",
      "PasswordAuthentication yes",
      "KbdInteractiveAuthentication no",
      "PermitEmptyPasswords no",
      // PAM's session modules (pam_loginuid) fail in containers; sshd checks /etc/shadow itself.
      "UsePAM no",
      "UseDNS no",
      "PrintMotd no",
      "PrintLastLog no",
      "X11Forwarding no",
      `MaxSessions ${o.maxSessions ?? 64}`,
      "MaxStartups 64:30:128",
      "MaxAuthTries 10",
      "LoginGraceTime 30",
      "LogLevel VERBOSE",
      "Subsystem sftp internal-sftp",
      "",
    ].join("\n"),
  );
  // Fail early with sshd's own words if the configuration is wrong.
  run(SSHD, ["-t", "-f", config]);

  let port = 0;
  let child: ChildProcess | undefined;
  let log = "";

  async function launch(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      port ||= await freePort();
      log = "";
      const proc = spawn(SSHD, ["-D", "-e", "-p", String(port), "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
      proc.stderr!.on("data", (d) => (log = (log + d).slice(-20_000)));
      const exited = new Promise<void>((r) => proc.once("exit", () => r()));
      let ok = false;
      for (let i = 0; i < 100 && proc.exitCode === null && proc.signalCode === null; i++) {
        if (log.includes("Server listening") && (await waitForBanner(port))) {
          ok = true;
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      if (ok) {
        child = proc;
        // Safety net: a test process that dies without stop() must not leave sshd behind.
        const onExit = () => proc.kill("SIGKILL");
        process.once("exit", onExit);
        proc.once("exit", () => process.off("exit", onExit));
        return;
      }
      proc.kill("SIGKILL");
      await exited;
      if (attempt < 3 && /Address already in use/.test(log)) {
        port = 0; // someone took the port between freePort() and bind(): pick another
        continue;
      }
      throw new Error(`sshd did not start on 127.0.0.1:${port}:\n${log}`);
    }
  }

  async function kill(): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  }

  try {
    await launch();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  const server: TestSshd = {
    host: "127.0.0.1",
    port,
    username: "root",
    privateKey: readFileSync(clientKey, "utf8"),
    passwordUser: PASSWORD_USER,
    password,
    hostKeyFingerprint: fingerprint(`${hostKey}.pub`),
    dir,
    log: () => log,
    async rotateHostKey() {
      await kill();
      newKey(hostKey);
      server.hostKeyFingerprint = fingerprint(`${hostKey}.pub`);
      const samePort = port;
      await launch();
      if (port !== samePort) throw new Error(`sshd restarted on port ${port}, not ${samePort}`);
      return server.hostKeyFingerprint;
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

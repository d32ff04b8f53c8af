import "server-only";
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { PassThrough, Readable } from "node:stream";
// ssh2 is CommonJS: its default export works under every loader (Next's bundler, vitest, plain Node ESM).
import ssh2, {
  type Client as SshClient,
  type AnyAuthMethod,
  type AuthHandlerMiddleware,
  type AuthenticationType,
  type ClientChannel,
  type SFTPWrapper,
} from "ssh2";
import { AppError } from "@/lib/errors";
import { AddressGuardError, resolveAllowedAddress } from "@/lib/net/address-guard";
import { CommandPlumbing, destroyOnAbort, signalName, validateExec } from "./command";
import { ReachError } from "./errors";
import { shellQuote } from "./quote";
import { checkPath, temporarySibling } from "./paths";
import { buildRemoteScript, PGID_MARKER } from "./script";
import type { ExecOptions, Reach, RunningCommand } from "./types";

const { Client, utils } = ssh2;
type Client = SshClient;

export interface ConnectSshOptions {
  host: string;
  /** Default 22. */
  port?: number;
  username: string;
  privateKey?: string;
  passphrase?: string;
  password?: string;
  /** "SHA256:…" as stored on first use. Unset: accept whatever the server presents (and return it). */
  pinnedHostKey?: string | null;
  /** Allow loopback/private/link-local targets (self-hosted installs, tests). Default false. */
  allowPrivateNetworks?: boolean;
  /** Name resolution, TCP connect, handshake and authentication together. Default 20 s. */
  connectTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface SshConnection {
  reach: Reach;
  /** The server's host key fingerprint as OpenSSH prints it: "SHA256:" + unpadded base64. */
  hostKey: string;
  /** e.g. "ssh-ed25519". */
  hostKeyType: string;
  /** The address that was checked by the address guard and connected to. */
  address: string;
}

const DEFAULT_TIMEOUT_MS = 20_000;
/** After EOF/kill, how long to wait for the channel to close on its own before closing it. */
const CHANNEL_CLOSE_GRACE_MS = 3_000;
const SFTP_CHUNK = 64 * 1024;
const SFTP_INFLIGHT = 8;

/** "SHA256:…" of a raw SSH public key blob, exactly as `ssh-keygen -l` prints it. */
export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

function keyType(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return "unknown";
  const len = keyBlob.readUInt32BE(0);
  return len > 0 && len < 64 && 4 + len <= keyBlob.length ? keyBlob.toString("latin1", 4, 4 + len) : "unknown";
}

function normalizeFingerprint(fp: string): string {
  const trimmed = fp.trim();
  const m = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(trimmed);
  if (!m) {
    throw new AppError(
      "VALIDATION",
      'The pinned host key must be a SHA256 fingerprint like "SHA256:AbC…" (as `ssh-keygen -l` prints it).',
    );
  }
  return `SHA256:${m[1]}`;
}

function parsePrivateKey(privateKey: string, passphrase: string | undefined) {
  const parsed = utils.parseKey(privateKey, passphrase);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key instanceof Error || !key) {
    const why = key instanceof Error ? key.message : "";
    if (/no passphrase given/i.test(why)) {
      throw new ReachError(
        "VALIDATION",
        "invalid-key",
        "The private key is protected by a passphrase: enter the passphrase too.",
      );
    }
    if (/passphrase|decrypt|bad/i.test(why) && passphrase) {
      throw new ReachError(
        "VALIDATION",
        "invalid-key",
        "The private key could not be decrypted: the passphrase is wrong.",
      );
    }
    throw new ReachError(
      "VALIDATION",
      "invalid-key",
      "The private key could not be read. Paste the whole private key (OpenSSH or PEM format: Ed25519, ECDSA or RSA), including its BEGIN and END lines.",
    );
  }
  if (!key.isPrivateKey()) {
    throw new ReachError(
      "VALIDATION",
      "invalid-key",
      "That is a public key. Paste the private key (the file without .pub).",
    );
  }
}

function validateConnect(o: ConnectSshOptions, port: number) {
  if (typeof o.host !== "string" || !o.host.trim())
    throw new AppError("VALIDATION", "Enter the server's host name or IP address.");
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new AppError("VALIDATION", "The SSH port must be a number from 1 to 65535.");
  if (typeof o.username !== "string" || !o.username || /[\s\x00-\x1f\x7f]/.test(o.username)) {
    throw new AppError("VALIDATION", "Enter the SSH user name (no spaces).");
  }
  if (!o.privateKey && !o.password)
    throw new AppError("VALIDATION", "Give a private key or a password for the SSH login.");
}

/**
 * Opens an SSH connection. Host key: with `pinnedHostKey` unset the connection succeeds and the
 * observed fingerprint is returned (trust on first use: store it); when set and different, the
 * connection is refused before authenticating. Every failure is a ReachError with a message a
 * user can act on; the connection is closed on every failure path, on abort and on timeout.
 */
export async function connectSsh(o: ConnectSshOptions): Promise<SshConnection> {
  const port = o.port ?? 22;
  validateConnect(o, port);
  if (o.privateKey) parsePrivateKey(o.privateKey, o.passphrase);
  const pinned = o.pinnedHostKey ? normalizeFingerprint(o.pinnedHostKey) : undefined;
  const timeoutMs = o.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const host = o.host.trim();
  const target = `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
  const deadline = Date.now() + timeoutMs;
  const timedOut = () =>
    new ReachError(
      "UPSTREAM",
      "timeout",
      `Timed out after ${Math.round(timeoutMs / 1000)} s connecting to ${target}. Check that the server is up and that its firewall lets Coffer reach the SSH port.`,
    );

  o.signal?.throwIfAborted();
  const dnsAbort = new AbortController();
  const dnsTimer = setTimeout(() => dnsAbort.abort(timedOut()), timeoutMs);
  const forward = () => dnsAbort.abort(o.signal?.reason);
  o.signal?.addEventListener("abort", forward, { once: true });
  let address: string;
  try {
    ({ address } = await resolveAllowedAddress(host, {
      allowPrivate: o.allowPrivateNetworks === true,
      signal: dnsAbort.signal,
    }));
  } catch (error) {
    if (error instanceof AddressGuardError && error.reason === "unknown-host") {
      throw new ReachError("UPSTREAM", "unknown-host", error.message);
    }
    throw error;
  } finally {
    clearTimeout(dnsTimer);
    o.signal?.removeEventListener("abort", forward);
  }

  o.signal?.throwIfAborted();
  const shown = address === host ? target : `${target} (${address})`;
  const methods = { key: Boolean(o.privateKey), password: Boolean(o.password) };

  return await new Promise<SshConnection>((resolve, reject) => {
    const client = new Client();
    let observed: { fingerprint: string; type: string } | undefined;
    let mismatch = false;
    let offered: string[] | null = null;
    const tried = new Set<string>();
    let settled = false;

    const finish = (error: unknown, value?: SshConnection) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener("abort", onAbort);
      if (error !== undefined) {
        client.destroy();
        reject(error);
      } else resolve(value!);
    };
    const timer = setTimeout(() => finish(timedOut()), Math.max(1, deadline - Date.now()));
    const onAbort = () => finish(o.signal!.reason);
    o.signal?.addEventListener("abort", onAbort, { once: true });

    const hostKeyChanged = () =>
      new ReachError(
        "UPSTREAM",
        "host-key-changed",
        `The host key of ${shown} changed: it now presents ${observed?.fingerprint} (${observed?.type}), but ${pinned} was accepted before. ` +
          "The server may have been reinstalled — or someone may be intercepting the connection. Coffer did not log in; " +
          "an admin must accept the new fingerprint in Server settings.",
        { hostKey: observed?.fingerprint },
      );

    const authFailed = () => {
      const who = `user "${o.username}" on ${shown}`;
      const notOffered = [
        methods.key && offered && !offered.includes("publickey") ? "key" : undefined,
        methods.password && offered && !offered.includes("password") && !offered.includes("keyboard-interactive")
          ? "password"
          : undefined,
      ].filter(Boolean);
      const offers = offered?.length ? ` (it offers: ${offered.join(", ")})` : "";
      if (!tried.size && notOffered.length) {
        const what = notOffered.includes("key")
          ? "key-based logins (PubkeyAuthentication)"
          : "password logins (PasswordAuthentication)";
        return new ReachError(
          "UPSTREAM",
          "auth-failed",
          `Authentication failed for ${who}: the server does not allow ${what}${offers}.`,
        );
      }
      const keyTried = tried.has("publickey");
      const passwordTried = tried.has("password") || tried.has("keyboard-interactive");
      let message: string;
      if (keyTried && passwordTried) {
        message = `Authentication failed for ${who}: neither the private key nor the password was accepted. Check the user name, the password, and that the key's public half is in that user's ~/.ssh/authorized_keys.`;
      } else if (keyTried) {
        message = `Authentication failed for ${who} with the private key: the server did not accept it. Add the matching public key to that user's ~/.ssh/authorized_keys, and check the user name.`;
      } else if (passwordTried) {
        message = `Authentication failed for ${who} with a password: wrong password (or password logins are disabled for this user). Check the user name and password.`;
      } else {
        message = `Authentication failed for ${who}${offers}.`;
      }
      return new ReachError("UPSTREAM", "auth-failed", message);
    };

    const mapError = (e: Error & { code?: string | number; level?: string }): unknown => {
      if (mismatch) return hostKeyChanged();
      const code = typeof e.code === "string" ? e.code : "";
      if (e.level === "client-authentication") return authFailed();
      if (e.level === "client-timeout" || code === "ETIMEDOUT") return timedOut();
      if (code === "ECONNREFUSED") {
        return new ReachError(
          "UPSTREAM",
          "refused",
          `Connection refused by ${shown}: nothing accepts connections on port ${port}. Check the host and the SSH port, and that sshd is running.`,
        );
      }
      if (code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EADDRNOTAVAIL") {
        return new ReachError(
          "UPSTREAM",
          "unreachable",
          `${shown} is unreachable from Coffer (${code}). Check the address and the network route.`,
        );
      }
      if (code === "ECONNRESET" || code === "EPIPE" || /before handshake/i.test(e.message)) {
        return new ReachError(
          "UPSTREAM",
          "handshake",
          `${shown} closed the connection before SSH was ready. Is it an SSH server on port ${port}? A firewall, fail2ban or sshd's MaxStartups may also be turning Coffer away.`,
        );
      }
      if (e.level === "handshake" || e.level === "protocol") {
        return new ReachError(
          "UPSTREAM",
          "handshake",
          `The SSH handshake with ${shown} failed: ${e.message}. Is it an SSH server on port ${port}?`,
        );
      }
      return new ReachError("UPSTREAM", "handshake", `Could not connect to ${shown}: ${e.message}.`);
    };

    // Always listening: an 'error' without a listener would crash the process.
    client.on("error", (e) => finish(mapError(e)));
    client.on("close", () =>
      finish(mismatch ? hostKeyChanged() : mapError(new Error("Connection lost before handshake"))),
    );
    client.on("ready", () => {
      if (!observed) return finish(new ReachError("UPSTREAM", "handshake", `${shown} did not present a host key.`));
      const reach = new SshReach(client, `${o.username}@${target}`);
      finish(undefined, { reach, hostKey: observed.fingerprint, hostKeyType: observed.type, address });
    });

    const plan: AuthenticationType[] = ["none"];
    if (o.privateKey) plan.push("publickey");
    if (o.password) plan.push("password", "keyboard-interactive");
    const authHandler = (
      methodsLeft: AuthenticationType[] | null,
      _partial: boolean | null,
      next: (m: AnyAuthMethod | false) => void,
    ) => {
      if (methodsLeft) offered = methodsLeft;
      for (let m = plan.shift(); m; m = plan.shift()) {
        if (m !== "none" && offered && !offered.includes(m)) continue;
        if (m === "keyboard-interactive" && tried.has("password")) continue; // one password attempt is enough
        if (m !== "none") tried.add(m);
        switch (m) {
          case "none":
            return next({ type: "none", username: o.username });
          case "publickey":
            return next({ type: "publickey", username: o.username, key: o.privateKey!, passphrase: o.passphrase });
          case "password":
            return next({ type: "password", username: o.username, password: o.password! });
          case "keyboard-interactive":
            // PAM setups ask for the password this way: answer one hidden prompt, nothing else.
            return next({
              type: "keyboard-interactive",
              username: o.username,
              prompt: (_n, _i, _l, prompts, answer) =>
                answer(o.password && prompts.length === 1 && !prompts[0]!.echo ? [o.password] : []),
            });
        }
      }
      return next(false);
    };

    try {
      client.connect({
        host: address,
        port,
        username: o.username,
        readyTimeout: Math.max(1, deadline - Date.now()) + 1000, // our own timer fires first
        keepaliveInterval: 15_000,
        keepaliveCountMax: 4,
        hostVerifier: (key: Buffer) => {
          observed = { fingerprint: hostKeyFingerprint(key), type: keyType(key) };
          if (pinned && observed.fingerprint !== pinned) {
            mismatch = true;
            return false; // refused during key exchange: no credentials are sent
          }
          return true;
        },
        authHandler: authHandler as unknown as AuthHandlerMiddleware, // ssh2 passes null before the first attempt
      });
    } catch (error) {
      finish(mapError(error as Error));
    }
  });
}

type Sftp = SFTPWrapper;

class SshReach implements Reach {
  readonly label: string;
  private readonly client: Client;
  private readonly running = new Set<CommandPlumbing>();
  private sftpSession?: Promise<Sftp>;
  private isClosed = false;
  private lostReason?: string;

  constructor(client: Client, label: string) {
    this.client = client;
    this.label = label;
    client.on("error", (e: Error & { level?: string }) => {
      this.lostReason = e.level === "client-timeout" ? "the server stopped answering keepalives" : e.message;
    });
    client.on("close", () => {
      const wasClosed = this.isClosed;
      this.isClosed = true;
      for (const cmd of this.running) cmd.fail(wasClosed ? this.closedError() : this.lostError());
    });
  }

  private lostError(what?: string): ReachError {
    return new ReachError(
      "UPSTREAM",
      "connection-lost",
      `The SSH connection to ${this.label} was lost${what ? ` while running ${what}` : ""}${this.lostReason ? ` (${this.lostReason})` : ""}.`,
    );
  }

  private closedError(): ReachError {
    return new ReachError("UPSTREAM", "connection-lost", `The SSH connection to ${this.label} was closed.`);
  }

  private assertOpen(): void {
    if (this.isClosed) throw this.closedError();
  }

  exec(argv: string[], opts?: ExecOptions): RunningCommand {
    return this.start([argv], opts ?? {});
  }

  execPipeline(stages: string[][], opts?: ExecOptions): RunningCommand {
    return this.start(stages, opts ?? {});
  }

  private start(stages: string[][], opts: ExecOptions): RunningCommand {
    validateExec(stages, opts);
    this.assertOpen();
    const env = opts.env ?? {};
    const envNames = Object.keys(env);
    const wantsStdin = opts.stdin === true;
    const script = buildRemoteScript(stages, { cwd: opts.cwd, envNames, stdin: wantsStdin });
    const what = stages.map((s) => s[0]).join(" | ");
    const cmd = new CommandPlumbing(opts.signal);
    let stdin: PassThrough | undefined;
    if (wantsStdin) {
      stdin = new PassThrough();
      stdin.on("error", () => {});
      cmd.stdin = stdin;
    }
    this.running.add(cmd);
    cmd.exit.then(
      () => this.running.delete(cmd),
      () => this.running.delete(cmd),
    );

    let channel: ClientChannel | undefined;
    let pgid: number | undefined;
    let killWanted = false;
    let closeTimer: NodeJS.Timeout | undefined;
    const closeSoon = () => {
      closeTimer ??= setTimeout(() => channel?.close(), CHANNEL_CLOSE_GRACE_MS);
      closeTimer.unref?.();
    };
    const terminate = () => {
      const ch = channel;
      if (!ch) return; // setTerminate runs this again once the channel is open
      ch.signal("TERM"); // honoured for non-root users; root sessions rely on the rest
      if (!wantsStdin) {
        ch.end(); // EOF on the lifeline: the watchdog kills the process group
        closeSoon();
      } else {
        killWanted = true;
        if (pgid && !this.isClosed) this.killGroup(pgid, () => closeSoon());
        else closeSoon(); // the group id has not arrived yet: killed when it does, else closed
      }
    };

    try {
      this.client.exec(script, (err, ch) => {
        if (err) {
          cmd.fail(
            this.isClosed
              ? this.lostError(what)
              : new ReachError(
                  "UPSTREAM",
                  "session",
                  `${this.label} refused to start ${what} (${err.message}). Too many sessions at once (sshd MaxSessions)?`,
                ),
          );
          return;
        }
        channel = ch;
        ch.on("error", () => {});
        ch.stderr.on("error", () => {});
        let pending: Buffer | undefined = wantsStdin ? Buffer.alloc(0) : undefined;
        ch.stderr.on("data", (chunk: Buffer) => {
          if (pending !== undefined) {
            // The first stderr line is ours: "coffer-pgid:<n>".
            pending = Buffer.concat([pending, chunk]);
            const nl = pending.indexOf(10);
            if (nl < 0 && pending.length < 64) return;
            const first = pending.subarray(0, nl < 0 ? 0 : nl).toString("latin1");
            if (first.startsWith(PGID_MARKER)) {
              const n = Number(first.slice(PGID_MARKER.length));
              if (Number.isInteger(n) && n > 1) {
                pgid = n;
                if (killWanted && !this.isClosed) this.killGroup(n, () => closeSoon());
              }
              chunk = pending.subarray(nl + 1);
            } else chunk = pending;
            pending = undefined;
            if (!chunk.length) return;
          }
          cmd.pushStderr(chunk);
        });
        ch.stderr.on("end", () => {
          if (pending?.length) cmd.pushStderr(pending);
          pending = undefined;
          cmd.endStderr();
        });
        cmd.attachStdout(ch);
        ch.on("exit", (code: number | null, signal?: string) =>
          cmd.exited({ code: code ?? null, signal: signalName(signal) }),
        );
        ch.on("close", () => {
          clearTimeout(closeTimer);
          cmd.closed(() =>
            this.isClosed
              ? this.lostError(what)
              : new ReachError("UPSTREAM", "session", `${what} on ${this.label} ended without an exit status.`),
          );
        });
        // Environment values first, then (if wanted) the caller's stdin; without stdin the
        // channel's input stays open as the lifeline until the command ends or is cancelled.
        if (envNames.length) ch.write(envNames.map((n) => `${env[n]}\n`).join(""));
        if (stdin) stdin.pipe(ch);
        cmd.setTerminate(terminate);
      });
    } catch (error) {
      cmd.fail(this.isClosed ? this.lostError(what) : error);
    }
    return cmd;
  }

  /** Kills a process group over a fresh channel (for commands that use stdin, no lifeline). */
  private killGroup(pgid: number, then: () => void): void {
    try {
      this.client.exec(shellQuote(["kill", "-TERM", `-${pgid}`]), (err, ch) => {
        if (err) return then();
        ch.on("error", () => {});
        ch.resume();
        ch.stderr.resume();
        ch.on("close", then);
        ch.end();
      });
    } catch {
      then();
    }
  }

  private sftp(): Promise<Sftp> {
    this.assertOpen();
    if (!this.sftpSession) {
      const session = new Promise<Sftp>((resolve, reject) => {
        this.client.sftp((err, sftp) => {
          if (err) {
            if (this.sftpSession === session) this.sftpSession = undefined;
            reject(
              this.isClosed
                ? this.lostError()
                : new ReachError(
                    "UPSTREAM",
                    "session",
                    `${this.label} does not offer SFTP (${err.message}). Enable the sftp subsystem in sshd_config.`,
                  ),
            );
            return;
          }
          sftp.on("error", () => {});
          sftp.on("close", () => {
            if (this.sftpSession === session) this.sftpSession = undefined;
          });
          resolve(sftp);
        });
      });
      session.catch(() => {});
      this.sftpSession = session;
    }
    return this.sftpSession;
  }

  private fileError(error: unknown, action: string, path: string): unknown {
    if (error instanceof AppError) return error;
    const e = error as { code?: number | string; message?: string };
    if (this.isClosed) return this.lostError(`${action} ${path}`);
    if (e.code === 2) {
      return action === "read"
        ? new ReachError("UPSTREAM", "not-found", `${path} does not exist on ${this.label}.`)
        : new ReachError("UPSTREAM", "not-found", `The folder ${posix.dirname(path)} does not exist on ${this.label}.`);
    }
    if (e.code === 3) {
      return new ReachError(
        "UPSTREAM",
        "permission-denied",
        `Permission denied: the SSH user cannot ${action} ${path} on ${this.label}.`,
      );
    }
    return new ReachError(
      "UPSTREAM",
      "file",
      `Could not ${action} ${path} on ${this.label}: ${e.message ?? String(error)}.`,
    );
  }

  async readFile(path: string, opts?: { signal?: AbortSignal }): Promise<Readable> {
    checkPath(path);
    opts?.signal?.throwIfAborted();
    const sftp = await this.sftp();
    let handle: Buffer;
    try {
      handle = await call<Buffer>((cb) => sftp.open(path, "r", cb));
    } catch (error) {
      throw this.fileError(error, "read", path);
    }
    try {
      const h = handle;
      const attrs = await call<{ isDirectory(): boolean }>((cb) => sftp.fstat(h, cb));
      if (attrs.isDirectory()) throw new AppError("VALIDATION", `${path} is a folder, not a file.`);
      opts?.signal?.throwIfAborted();
    } catch (error) {
      sftp.close(handle, () => {});
      throw opts?.signal?.aborted ? opts.signal.reason : this.fileError(error, "read", path);
    }
    return destroyOnAbort(new SftpFileReader(sftp, handle, (e) => this.fileError(e, "read", path)), opts?.signal);
  }

  async writeFile(path: string, body: Readable, opts?: { signal?: AbortSignal; mode?: number }): Promise<void> {
    checkPath(path);
    const signal = opts?.signal;
    const mode = opts?.mode ?? 0o600;
    signal?.throwIfAborted();
    const sftp = await this.sftp();
    const tmp = temporarySibling(path);
    const onAbort = () =>
      body.destroy(signal!.reason instanceof Error ? signal!.reason : new Error(String(signal!.reason)));
    signal?.addEventListener("abort", onAbort, { once: true });
    let handle: Buffer | undefined;
    let created = false;
    try {
      handle = await call<Buffer>((cb) => sftp.open(tmp, "wx", mode, cb)).catch((e) => {
        throw this.fileError(e, "write", path);
      });
      created = true;
      const h = handle;
      await call((cb) => sftp.fchmod(h, mode, cb)).catch((e) => {
        throw this.fileError(e, "write", path);
      });

      // Several writes in flight (positions are explicit), so throughput is not one round trip per chunk.
      let position = 0;
      const inflight = new Set<Promise<void>>();
      let writeError: unknown;
      for await (const data of body) {
        const chunk: Buffer = Buffer.isBuffer(data) ? data : Buffer.from(data as string);
        for (let off = 0; off < chunk.length; off += SFTP_CHUNK) {
          const piece = chunk.subarray(off, off + SFTP_CHUNK);
          const at = position;
          position += piece.length;
          const p: Promise<void> = call((cb) => sftp.write(h, piece, 0, piece.length, at, cb)).then(
            () => void inflight.delete(p),
            (e) => {
              inflight.delete(p);
              writeError ??= this.fileError(e, "write", path);
            },
          );
          inflight.add(p);
          if (inflight.size >= SFTP_INFLIGHT) await Promise.race(inflight);
          if (writeError) throw writeError;
        }
      }
      await Promise.all(inflight);
      if (writeError) throw writeError;
      signal?.throwIfAborted();
      await call((cb) => sftp.ext_openssh_fsync(h, cb)).catch(() => {}); // best effort: not every server has fsync@openssh.com
      handle = undefined;
      await call((cb) => sftp.close(h, cb)).catch((e) => {
        throw this.fileError(e, "write", path);
      });
      await this.renameOver(sftp, tmp, path);
      created = false;
    } catch (error) {
      if (handle) {
        const h = handle;
        await call((cb) => sftp.close(h, cb)).catch(() => {});
      }
      if (created) await call((cb) => sftp.unlink(tmp, cb)).catch(() => {});
      if (signal?.aborted) throw signal.reason;
      throw error;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  private async renameOver(sftp: Sftp, from: string, to: string): Promise<void> {
    try {
      // posix-rename@openssh.com replaces the target atomically; plain SFTP rename refuses to.
      await call((cb) => sftp.ext_openssh_rename(from, to, cb));
      return;
    } catch (error) {
      if (!/not support/i.test((error as Error).message ?? "")) throw this.fileError(error, "write", to);
    }
    try {
      await call((cb) => sftp.rename(from, to, cb));
    } catch {
      // Not atomic, for servers without the extension: remove the old file, then rename.
      await call((cb) => sftp.unlink(to, cb)).catch(() => {});
      await call((cb) => sftp.rename(from, to, cb)).catch((e) => {
        throw this.fileError(e, "write", to);
      });
    }
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    const commands = [...this.running];
    const stopped = new AppError("UPSTREAM", `The connection to ${this.label} is closing.`);
    for (const cmd of commands) cmd.cancel(stopped);
    // Give the watchdogs the EOF they need and let the channels close (bounded).
    await Promise.race([
      Promise.allSettled(commands.map((c) => c.exit)),
      new Promise((r) => setTimeout(r, 2_000).unref?.()),
    ]);
    this.isClosed = true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.client.destroy();
        resolve();
      }, 2_000);
      timer.unref?.();
      this.client.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.end();
    });
  }
}

/** Reads a remote file with several requests in flight (SFTP is otherwise one round trip per chunk). */
class SftpFileReader extends Readable {
  private next = 0;
  private readonly queue: { at: number; len: number; result: Promise<Buffer> }[] = [];
  private eof = false;
  private busy = false;
  private handleOpen = true;

  constructor(
    private readonly sftp: Sftp,
    private readonly handle: Buffer,
    private readonly mapError: (e: unknown) => unknown,
  ) {
    super({ highWaterMark: SFTP_CHUNK * 4 });
  }

  private request(at: number, len: number) {
    const result = new Promise<Buffer>((resolve, reject) => {
      const buf = Buffer.allocUnsafe(len);
      this.sftp.read(this.handle, buf, 0, len, at, (err, n) => (err ? reject(err) : resolve(buf.subarray(0, n))));
    });
    result.catch(() => {});
    return { at, len, result };
  }

  override _read(): void {
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (;;) {
        while (!this.eof && this.queue.length < SFTP_INFLIGHT) {
          this.queue.push(this.request(this.next, SFTP_CHUNK));
          this.next += SFTP_CHUNK;
        }
        const head = this.queue[0];
        if (!head) {
          this.push(null);
          return;
        }
        const data = await head.result;
        if (this.destroyed) return;
        this.queue.shift();
        if (data.length === 0) {
          this.eof = true; // requests queued after it are past the end as well
          this.queue.length = 0;
          continue;
        }
        if (data.length < head.len) this.queue.unshift(this.request(head.at + data.length, head.len - data.length)); // short read
        if (!this.push(data)) return;
      }
    } catch (error) {
      this.destroy(this.mapError(error) as Error);
    } finally {
      this.busy = false;
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.handleOpen) return callback(error);
    this.handleOpen = false;
    this.sftp.close(this.handle, () => callback(error));
  }
}

function call<T = void>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      fn((err, value) => (err ? reject(err) : resolve(value as T)));
    } catch (error) {
      reject(error); // ssh2 throws synchronously, e.g. for unsupported extensions
    }
  });
}

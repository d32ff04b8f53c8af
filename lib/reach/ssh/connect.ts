import "server-only";
// ssh2 is CommonJS: its default export works under every loader (Next's bundler, vitest, plain Node ESM).
import ssh2, { type AnyAuthMethod, type AuthHandlerMiddleware, type AuthenticationType } from "ssh2";
import { AppError } from "@/lib/errors";
import { AddressGuardError, resolveAllowedAddress } from "@/lib/net/address-guard";
import { ReachError } from "../errors";
import type { Reach } from "../types";
import { connectError, hostKeyChanged, timedOut, type ConnectAttempt } from "./connect-errors";
import { hostKeyFingerprint, keyType, normalizeFingerprint, parsePrivateKey } from "./keys";
import { SshReach } from "./reach";

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
  const timeout = () => timedOut(target, timeoutMs);

  o.signal?.throwIfAborted();
  const dnsAbort = new AbortController();
  const dnsTimer = setTimeout(() => dnsAbort.abort(timeout()), timeoutMs);
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
  const attempt: ConnectAttempt = {
    shown: address === host ? target : `${target} (${address})`,
    port,
    username: o.username,
    pinned,
    methods: { key: Boolean(o.privateKey), password: Boolean(o.password) },
    mismatch: false,
    offered: null,
    tried: new Set<string>(),
  };

  return await new Promise<SshConnection>((resolve, reject) => {
    const client = new ssh2.Client();
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
    const timer = setTimeout(() => finish(timeout()), Math.max(1, deadline - Date.now()));
    const onAbort = () => finish(o.signal!.reason);
    o.signal?.addEventListener("abort", onAbort, { once: true });
    const mapError = (e: Error) => connectError(attempt, e, timeout);

    // Always listening: an 'error' without a listener would crash the process.
    client.on("error", (e) => finish(mapError(e)));
    client.on("close", () =>
      finish(attempt.mismatch ? hostKeyChanged(attempt) : mapError(new Error("Connection lost before handshake"))),
    );
    client.on("ready", () => {
      const observed = attempt.observed;
      if (!observed)
        return finish(new ReachError("UPSTREAM", "handshake", `${attempt.shown} did not present a host key.`));
      const reach = new SshReach(client, `${o.username}@${target}`);
      finish(undefined, { reach, hostKey: observed.fingerprint, hostKeyType: observed.type, address });
    });

    try {
      client.connect({
        host: address,
        port,
        username: o.username,
        readyTimeout: Math.max(1, deadline - Date.now()) + 1000, // our own timer fires first
        keepaliveInterval: 15_000,
        keepaliveCountMax: 4,
        hostVerifier: (key: Buffer) => {
          attempt.observed = { fingerprint: hostKeyFingerprint(key), type: keyType(key) };
          if (pinned && attempt.observed.fingerprint !== pinned) {
            attempt.mismatch = true;
            return false; // refused during key exchange: no credentials are sent
          }
          return true;
        },
        authHandler: authHandler(o, attempt) as unknown as AuthHandlerMiddleware, // ssh2 passes null before the first attempt
      });
    } catch (error) {
      finish(mapError(error as Error));
    }
  });
}

/** Tries "none", then the key, then the password (also as keyboard-interactive), skipping what the server does not offer. */
function authHandler(o: ConnectSshOptions, attempt: ConnectAttempt) {
  const plan: AuthenticationType[] = ["none"];
  if (o.privateKey) plan.push("publickey");
  if (o.password) plan.push("password", "keyboard-interactive");
  return (
    methodsLeft: AuthenticationType[] | null,
    _partial: boolean | null,
    next: (m: AnyAuthMethod | false) => void,
  ) => {
    if (methodsLeft) attempt.offered = methodsLeft;
    const { offered, tried } = attempt;
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
}

import "server-only";
import { ReachError } from "../errors";

/** What a connection attempt has seen so far, for explaining why it failed. */
export interface ConnectAttempt {
  /** "host:port", with the checked address when it differs from the host. */
  shown: string;
  port: number;
  username: string;
  /** The fingerprint that must match, if any. */
  pinned?: string;
  /** Which credentials were given. */
  methods: { key: boolean; password: boolean };
  /** The host key the server presented. */
  observed?: { fingerprint: string; type: string };
  /** The presented host key differed from `pinned` (refused before authenticating). */
  mismatch: boolean;
  /** Authentication methods the server offers (once it said). */
  offered: string[] | null;
  /** Authentication methods tried. */
  tried: Set<string>;
}

export function timedOut(target: string, timeoutMs: number): ReachError {
  return new ReachError(
    "UPSTREAM",
    "timeout",
    `Timed out after ${Math.round(timeoutMs / 1000)} s connecting to ${target}. Check that the server is up and that its firewall lets Coffer reach the SSH port.`,
  );
}

export function hostKeyChanged(a: ConnectAttempt): ReachError {
  return new ReachError(
    "UPSTREAM",
    "host-key-changed",
    `The host key of ${a.shown} changed: it now presents ${a.observed?.fingerprint} (${a.observed?.type}), but ${a.pinned} was accepted before. ` +
      "The server may have been reinstalled — or someone may be intercepting the connection. Coffer did not log in; " +
      "an admin must accept the new fingerprint in Server settings.",
    { hostKey: a.observed?.fingerprint },
  );
}

export function authFailed(a: ConnectAttempt): ReachError {
  const { offered, tried, methods } = a;
  const who = `user "${a.username}" on ${a.shown}`;
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
}

/** An ssh2 client error as a message a user can act on. */
export function connectError(
  a: ConnectAttempt,
  e: Error & { code?: string | number; level?: string },
  timeout: () => ReachError,
): ReachError {
  const { shown, port } = a;
  if (a.mismatch) return hostKeyChanged(a);
  const code = typeof e.code === "string" ? e.code : "";
  if (e.level === "client-authentication") return authFailed(a);
  if (e.level === "client-timeout" || code === "ETIMEDOUT") return timeout();
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
}

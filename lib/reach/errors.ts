import "server-only";
import { AppError, type ErrorCode } from "@/lib/errors";

/**
 * Why reaching a server failed, for code that reacts differently (the UI offers "Accept new
 * fingerprint" for `host-key-changed`; workflows should not retry `auth-failed`,
 * `host-key-changed`, `invalid-key` or `address-refused`).
 */
export type ReachFailure =
  | "auth-failed"
  | "host-key-changed"
  | "unknown-host"
  | "refused"
  | "unreachable"
  | "timeout"
  | "handshake"
  | "invalid-key"
  | "connection-lost"
  | "session"
  | "not-found"
  | "permission-denied"
  | "file";

/** An AppError (so every mapper handles it) that also says which failure it is. Messages never
 * contain passwords, keys or passphrases. */
export class ReachError extends AppError {
  readonly reason: ReachFailure;
  /** For `host-key-changed`: the fingerprint the server presents now. */
  readonly hostKey?: string;
  constructor(code: ErrorCode, reason: ReachFailure, message: string, extra?: { hostKey?: string }) {
    super(code, message);
    this.reason = reason;
    this.hostKey = extra?.hostKey;
  }
  /** Retrying will not help until someone changes something. */
  get permanent(): boolean {
    return [
      "auth-failed",
      "host-key-changed",
      "invalid-key",
      "unknown-host",
      "not-found",
      "permission-denied",
    ].includes(this.reason);
  }
}

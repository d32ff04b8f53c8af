import "server-only";
import type { Client } from "ssh2";
import type { CommandPlumbing } from "../command";
import type { ReachError } from "../errors";

/** What the command and file parts need of an open SSH connection (implemented by SshReach). */
export interface SshLink {
  readonly client: Client;
  /** "user@host:port", for messages. */
  readonly label: string;
  /** The connection is gone (closed by Coffer or lost). */
  readonly isClosed: boolean;
  lostError(what?: string): ReachError;
  /** Throws if the connection is gone. */
  assertOpen(): void;
  /** Registers a running command, failed if the connection goes. */
  track(cmd: CommandPlumbing): void;
}

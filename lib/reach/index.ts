import "server-only";

export type { ExecOptions, ExitResult, Reach, RunningCommand } from "./types";
export { connectSsh, hostKeyFingerprint, type ConnectSshOptions, type SshConnection } from "./ssh";
export { localReach } from "./local";
export { quoteArg, shellQuote } from "./quote";
export { runCommand, type CommandOutput } from "./run-command";
export { ReachError, type ReachFailure } from "./errors";

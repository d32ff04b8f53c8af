import "server-only";

export type { ExecOptions, ExitResult, Reach, RunningCommand } from "./types";
export { connectSsh, type ConnectSshOptions, type SshConnection } from "./ssh/connect";
export { hostKeyFingerprint } from "./ssh/keys";
export { localReach } from "./local";
export { quoteArg, shellQuote } from "./quote";
export { runCommand, type CommandOutput } from "./run-command";
export { ReachError, type ReachFailure } from "./errors";
export { firstLines, lineReader } from "./output";
export { holdNewFolder, holdPrivateFolder } from "./guardian";

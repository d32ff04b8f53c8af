import "server-only";

export type { ExitResult, Reach, RunningCommand } from "./types";
export { connectSsh, type SshConnection } from "./ssh/connect";
export { localReach } from "./local";
export { runCommand } from "./run-command";
export { ReachError } from "./errors";
export { firstLines, lineReader } from "./output";
export { holdNewFolder, holdPrivateFolder, removeHeldFolders } from "./guardian";

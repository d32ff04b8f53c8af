import "server-only";
export type { DirectoryRestoreJob, DirectoryRestoreResult } from "./job";
export { restoreDirectory } from "./restore";

import "server-only";
export type { DirectoryRestoreJob } from "./job";
export { restoreDirectory } from "./restore";

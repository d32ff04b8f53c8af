import "server-only";
export { COUNT_ROWS } from "./dump-postgres";
export type { ArchiveJob, ArchiveSource, DirectoryArchiveSource, PostgresArchiveSource, RunningArchive } from "./job";
export { startArchive } from "./start";

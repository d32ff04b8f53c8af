import "server-only";
export { COUNT_ROWS } from "./dump-postgres";
export type { ArchiveJob, ArchiveSource, PostgresArchiveSource } from "./job";
export { startArchive } from "./start";

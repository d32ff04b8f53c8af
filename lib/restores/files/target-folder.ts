import "server-only";
import { AppError } from "@/lib/errors";
import { firstLines, holdNewFolder, holdPrivateFolder } from "@/lib/reach";
import type { DirectoryRestoreJob } from "./job";

/** The folder extracted into, held on the server until the restore ends (see lib/reach/guardian.ts). */
export interface TargetFolder {
  /** Fresh: the target; overwrite: the private folder (extract into `<dir>/tree`). */
  dir: string;
  /** Fresh only: ends the guardian keeping what was restored. */
  keep(): Promise<void>;
  /** Ends the guardian removing what it holds; rejects if that failed. */
  close(): Promise<void>;
}

/** Fresh: creates the target (or takes it empty); overwrite: creates a private folder inside it. */
export async function openTargetFolder(job: DirectoryRestoreJob, target: string): Promise<TargetFolder> {
  const fresh = job.mode === "fresh";
  const opts = { signal: job.signal };
  const start = fresh
    ? await holdNewFolder(job.reach, target, opts)
    : await holdPrivateFolder(job.reach, target, `.coffer-restore-${job.restoreId}`, { ...opts, subfolders: ["tree"] });
  if ("failed" in start) {
    const why = firstLines(start.failed.stderrTail) || (fresh ? "mkdir failed" : "mktemp failed");
    if (start.failed.code === 3)
      throw new AppError("VALIDATION", `${why} on ${job.serverName}: choose a new folder or use overwrite.`);
    throw new AppError(
      "UPSTREAM",
      `Could not ${fresh ? `create ${target}` : `create a private folder in ${target}`} on ${job.serverName}: ${why}.`,
    );
  }
  const { guardian } = start;
  const end = async (verdict: string) => {
    const exit = await guardian.end(verdict);
    if (exit.code !== 0)
      throw new AppError(
        "UPSTREAM",
        `Could not ${verdict ? "finish" : "clean up"} ${fresh ? target : "the private folder"} on ${job.serverName}: ${firstLines(exit.stderrTail) || `exit ${exit.code ?? exit.signal}`}.`,
      );
  };
  return { dir: guardian.dir, keep: () => end("keep\n"), close: () => end("") };
}

import "server-only";
import { plainCause } from "@/lib/error-text";
import { AppError } from "@/lib/errors";
import { formatBytes, formatCount } from "@/lib/format";
import { copyOver } from "./copy-over";
import { RestoreEntryChecker } from "./entry-checker";
import { extract } from "./extract";
import type { DirectoryRestoreJob, DirectoryRestoreResult } from "./job";
import { preflight } from "./preflight";
import { openTargetFolder, type TargetFolder } from "./target-folder";

/** An absolute folder without `.`/`..` parts, repeated or trailing slashes. */
function normalizeTarget(target: string): string {
  if (typeof target !== "string" || !target.startsWith("/") || /[\0\n\r]/.test(target))
    throw new AppError("VALIDATION", "The restore folder must be an absolute path, e.g. /srv/restored.");
  const parts = target.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new AppError("VALIDATION", `Write the restore folder ${target} without "..".`);
  return `/${parts.join("/")}`;
}

/**
 * Restores directory sources from a backup archive (`files/<absolute path>/…`) to a folder on a
 * server. Node checks every entry and re-packs only the accepted ones for the server's `tar -x`, so
 * what is extracted is exactly what was checked. `fresh` extracts into a new (or empty) folder;
 * `overwrite` extracts into a private folder inside the target, then copies over it. On failure or
 * cancel, what was created is removed. Why it is built this way: docs/design/restore-safety.md.
 */
export async function restoreDirectory(job: DirectoryRestoreJob): Promise<DirectoryRestoreResult> {
  const target = normalizeTarget(job.target);
  if (job.mode !== "fresh" && job.mode !== "overwrite")
    throw new AppError("VALIDATION", 'The restore mode must be "fresh" or "overwrite".');
  if (typeof job.restoreId !== "string" || !/^[A-Za-z0-9_]{1,64}$/.test(job.restoreId))
    throw new AppError("VALIDATION", "The restore id must be letters, digits or _.");
  const checker = new RestoreEntryChecker(job.members, { inPlace: target === "/" });
  const signal = job.signal ?? new AbortController().signal;
  const step = (line: string) => job.onStep?.(line);
  const where = `${target} on ${job.serverName}`;
  let folder: TargetFolder | undefined;
  let copying = false;
  try {
    signal.throwIfAborted();
    await preflight(job, target, signal);
    signal.throwIfAborted();
    folder = await openTargetFolder(job, target);
    const into = job.mode === "fresh" ? target : `${folder.dir}/tree`;
    step(
      job.mode === "fresh"
        ? `Created ${where}; extracting…`
        : `Extracting into the private folder ${folder.dir} on ${job.serverName}…`,
    );
    const result = await extract(job, checker, into, signal);
    step(`Extracted ${formatCount(result.files, "file")}, ${formatBytes(result.bytes)}.`);
    if (checker.leftOutCount)
      step(
        `Left out ${formatCount(checker.leftOutCount, "FIFO or device file")} of the backup, which a restore never creates: ${checker.leftOut.join(", ")}${checker.leftOutCount > checker.leftOut.length ? ", …" : ""}.`,
      );
    if (job.mode === "overwrite") {
      signal.throwIfAborted();
      copying = true;
      step(`Copying over ${target} (this last step is not cancelled once started)…`);
      await copyOver(job, folder.dir, target, checker.implicitDirectories());
      const f = folder;
      folder = undefined;
      try {
        await f.close();
      } catch (error) {
        throw new AppError(
          "UPSTREAM",
          `The files were restored into ${where}, but the private folder ${f.dir} could not be removed (${plainCause(error, { step: "restore-cleanup" })}): remove it by hand.`,
        );
      }
      step("Private folder removed.");
    } else {
      const f = folder;
      folder = undefined;
      await f.keep();
    }
    step(`Restored ${formatCount(result.files, "file")} into ${where}.`);
    return result;
  } catch (error) {
    const cancelled = signal.aborted && !copying;
    let reason: unknown = cancelled
      ? signal.reason
      : error instanceof AppError
        ? error
        : new AppError("INTERNAL", `The restore to ${where} failed: ${plainCause(error, { step: "restore" })}.`);
    if (folder) {
      const f = folder;
      await f
        .close()
        .catch((e: unknown) =>
          step(
            `Could not remove ${job.mode === "fresh" ? "what the restore created in" : "the private folder"} ${f.dir}: ${plainCause(e, { step: "restore-cleanup" })}.`,
          ),
        );
    }
    if (!job.tar.destroyed) job.tar.destroy();
    if (reason instanceof AppError && reason.code === "VALIDATION" && !copying && folder) {
      const outcome = job.mode === "fresh" ? `what Coffer created in ${where} was removed` : `${where} is unchanged`;
      reason = new AppError("VALIDATION", `${reason.message} Nothing was restored: ${outcome}.`);
    }
    throw reason;
  }
}

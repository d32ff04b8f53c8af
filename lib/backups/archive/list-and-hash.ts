import "server-only";
import { AppError } from "@/lib/errors";
import { runCommand } from "@/lib/reach";
import type { ManifestEntry } from "../manifest";
import { findArgs, parseSha256Output, parseStatOutput } from "../plan";
import type { ArchiveJob, Plan, StartedJob } from "./job";

const MAX_LIST_OUTPUT = 512 * 1024 * 1024;

/** Writes the NUL-separated lists tar reads: per directory source all paths and its regular files. */
export async function listDirectories(job: StartedJob, plan: Plan, dir: string) {
  const all: string[] = [];
  const regular: string[] = [];
  for (const [i, d] of plan.directories.entries()) {
    const lists = { allList: `files-${i}.list`, regularList: `regular-${i}.list` };
    const r = await runCommand(job.reach, findArgs({ paths: d.normalized, excludes: d.excludes, ...lists }), {
      cwd: dir,
      signal: job.signal,
    });
    if (r.code !== 0) {
      const message = r.stderrTail.replaceAll(`files/`, "/").trim().split("\n").slice(0, 3).join("; ");
      throw new AppError(
        "UPSTREAM",
        `Could not list the files of ${d.name} on ${job.serverName}: ${message || `find exited ${r.code}`}. Fix the permissions, or exclude those paths.`,
      );
    }
    all.push(lists.allList);
    regular.push(lists.regularList);
  }
  return { all, regular };
}

const HASH = 'cd -- "$1" || exit 125\nshift\ncat -- "$@" | xargs -0 -r sha256sum -z --';
const SIZES = 'cd -- "$1" || exit 125\nshift\ncat -- "$@" | xargs -0 -r stat --printf \'%s %n\\0\' --';

/** Size and SHA-256 of every file in `lists`, computed on the server, for the manifest. */
export async function hashEntries(job: StartedJob, dir: string, lists: string[]): Promise<ManifestEntry[]> {
  if (!lists.length) return [];
  const opts = { signal: job.signal, maxOutputBytes: MAX_LIST_OUTPUT };
  const sizes = await runCommand(job.reach, ["sh", "-c", SIZES, "sh", dir, ...lists], opts);
  if (sizes.code !== 0) throw changedError(job, sizes.stderrTail);
  const hashes = await runCommand(job.reach, ["sh", "-c", HASH, "sh", dir, ...lists], opts);
  if (hashes.code !== 0) throw changedError(job, hashes.stderrTail);
  const sizeOf = parseStatOutput(sizes.stdout);
  const hashOf = parseSha256Output(hashes.stdout);
  const entries: ManifestEntry[] = [];
  const seen = new Set<string>();
  for (const [path, sha256] of hashOf) {
    const size = sizeOf.get(path);
    if (size === undefined) throw changedError(job, `${path} appeared while Coffer was reading`);
    if (seen.has(path)) continue;
    seen.add(path);
    entries.push({ path, size, sha256 });
  }
  return entries;
}

function changedError(job: ArchiveJob, stderr: string) {
  const text = stderr.replaceAll("files/", "/").trim().split("\n").slice(0, 3).join("; ");
  return new AppError(
    "UPSTREAM",
    `Could not read the files to back up on ${job.serverName}: ${text || "unknown error"}. If files vanished while being read, run the backup again or exclude them.`,
  );
}

import "server-only";
import { AppError } from "@/lib/errors";
import { firstLines, type Reach, runCommand } from "@/lib/reach";
import type { StartedJob } from "./job";

/** Runs a short command; a non-zero exit becomes an AppError saying what could not be done. */
export async function mustRun(reach: Reach, argv: string[], opts: Parameters<typeof runCommand>[2], what: string) {
  const r = await runCommand(reach, argv, opts);
  if (r.code !== 0)
    throw new AppError(
      "UPSTREAM",
      `Could not ${what} on ${reach.label}: ${firstLines(r.stderrTail) || `exit ${r.code ?? r.signal}`}.`,
    );
  return r;
}

/** Writes `text` to a new file (0600) on the server. */
export async function writeRemote(job: StartedJob, path: string, text: string) {
  await mustRun(
    job.reach,
    ["sh", "-c", 'umask 077 && cat > "$1"', "sh", path],
    { input: text, signal: job.signal },
    `write ${path}`,
  );
}

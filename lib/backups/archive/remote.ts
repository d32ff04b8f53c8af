import "server-only";
import { AppError } from "@/lib/errors";
import { firstLines, type Reach, runCommand } from "@/lib/reach";

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

import "server-only";
import { AppError } from "@/lib/errors";
import { firstLines, runCommand } from "@/lib/reach";
import type { DirectoryRestoreJob } from "./job";
import { show } from "./show";

/** Prints the tools found, their versions and the state of the target (and of its nearest existing parent). */
const PREFLIGHT = [
  "t=$1; mode=$2",
  'for c in tar mktemp cp find xargs chmod touch stat rm mkdir; do command -v "$c" >/dev/null 2>&1 && echo "tool $c"; done',
  'tar --version 2>/dev/null | head -n 1 | sed "s/^/tarversion /"',
  'if [ "$mode" = overwrite ]; then cp --version 2>/dev/null | head -n 1 | sed "s/^/cpversion /"; fi',
  'if [ -e "$t" ]; then',
  '  if [ ! -d "$t" ]; then echo "target notdir"',
  '  elif [ ! -r "$t" ] || [ ! -w "$t" ] || [ ! -x "$t" ]; then echo "target readonly"',
  '  elif [ -n "$(ls -A -- "$t" | head -n 1)" ]; then echo "target nonempty"',
  '  else echo "target empty"; fi',
  'elif [ -L "$t" ]; then echo "target dangling"',
  "else",
  '  echo "target missing"',
  '  p=$t; while [ ! -e "$p" ] && [ ! -L "$p" ]; do p=$(dirname -- "$p"); done',
  '  printf "parent %s\\n" "$p"',
  '  if [ ! -d "$p" ]; then echo "parent notdir"; elif [ ! -w "$p" ] || [ ! -x "$p" ]; then echo "parent readonly"; fi',
  "fi",
  "true",
].join("\n");

/** Checks the server's tools and the target before anything is created; throws a message saying what to fix. */
export async function preflight(job: DirectoryRestoreJob, target: string, signal: AbortSignal): Promise<void> {
  const { reach, serverName: server, mode } = job;
  const probe = await runCommand(reach, ["sh", "-c", PREFLIGHT, "sh", target, mode], { signal });
  if (probe.code !== 0)
    throw new AppError(
      "UPSTREAM",
      `Could not inspect ${server}: ${firstLines(probe.stderrTail) || `exit ${probe.code ?? probe.signal}`}.`,
    );
  const lines = probe.stdout.split("\n");
  const tools = new Set(lines.filter((l) => l.startsWith("tool ")).map((l) => l.slice(5)));
  const missing = ["tar", "mktemp", "cp", "find", "xargs", "chmod", "touch", "stat", "rm", "mkdir"].filter(
    (t) => !tools.has(t),
  );
  if (missing.length)
    throw new AppError(
      "UPSTREAM",
      `${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} not installed on ${server}: install ${missing.includes("tar") ? "GNU tar and " : ""}coreutils/findutils.`,
    );
  const tarVersion = lines.find((l) => l.startsWith("tarversion "))?.slice(11) ?? "";
  if (!/GNU tar/.test(tarVersion))
    throw new AppError(
      "UPSTREAM",
      `Coffer needs GNU tar on ${server}, found ${tarVersion || "an unknown tar"}: install GNU tar.`,
    );
  if (mode === "overwrite") {
    const cpVersion = lines.find((l) => l.startsWith("cpversion "))?.slice(10) ?? "";
    if (!/GNU coreutils/.test(cpVersion))
      throw new AppError(
        "UPSTREAM",
        `Overwriting needs GNU cp (coreutils) on ${server}, found ${cpVersion || "another cp"}: install coreutils, or restore into a new folder.`,
      );
  }
  const state = lines.find((l) => l.startsWith("target "))?.slice(7);
  const where = `${target} on ${server}`;
  switch (state) {
    case "notdir":
      throw new AppError(
        "VALIDATION",
        `${where} exists and is not a folder: choose ${mode === "fresh" ? "a new folder" : "a folder"}.`,
      );
    case "readonly":
      throw new AppError(
        "VALIDATION",
        `${where} is not readable and writable by the user Coffer logs in as: fix its permissions, or choose another folder.`,
      );
    case "dangling":
      throw new AppError("VALIDATION", `${where} is a symbolic link to nothing: remove it, or choose another folder.`);
    case "nonempty":
      if (mode === "fresh")
        throw new AppError(
          "VALIDATION",
          `${where} already exists and is not empty: choose a new folder or use overwrite.`,
        );
      return;
    case "empty":
      return;
    case "missing": {
      if (mode === "overwrite")
        throw new AppError(
          "VALIDATION",
          `${where} does not exist: overwrite restores into an existing folder. Choose one, or use fresh to create ${target}.`,
        );
      const parent = lines.find((l) => l.startsWith("parent "))?.slice(7) ?? "its parent";
      if (lines.includes("parent notdir"))
        throw new AppError("VALIDATION", `Cannot create ${where}: ${parent} is not a folder. Choose another folder.`);
      if (lines.includes("parent readonly"))
        throw new AppError(
          "VALIDATION",
          `Cannot create ${where}: ${parent} is not writable by the user Coffer logs in as. Fix its permissions, or choose another folder.`,
        );
      return;
    }
    default:
      throw new AppError(
        "UPSTREAM",
        `Could not inspect ${where}: unexpected answer ${show(probe.stdout.slice(0, 200))}.`,
      );
  }
}

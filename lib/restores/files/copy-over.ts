import "server-only";
import { AppError } from "@/lib/errors";
import { firstLines, runCommand } from "@/lib/reach";
import type { DirectoryRestoreJob } from "./job";
import { show } from "./show";

/**
 * In the staged tree ($1/tree): first lists every path whose counterpart in the target ($2) would
 * make `cp` follow a link or fail (a folder over a symbolic link or a file, a non-folder over a
 * real folder) and stops with exit 3 if there is any; then gives the tree's root and the implied
 * folders (NUL-separated on stdin) the target's existing owner, mode and times; then copies.
 */
const COPY = [
  "d=$1; t=$2",
  'cd -- "$d/tree" || exit 125',
  `find . -mindepth 1 -exec sh -c '
t=$1; shift
for p do
  q=$t/\${p#./}
  if [ -d "$p" ] && [ ! -L "$p" ]; then
    if [ -L "$q" ] || { [ -e "$q" ] && [ ! -d "$q" ]; }; then printf "%s\\n" "\${p#./}"; fi
  elif [ -d "$q" ] && [ ! -L "$q" ]; then printf "%s\\n" "\${p#./}"; fi
done' sh "$t" {} + > "$d/conflicts" || exit 4`,
  'if [ -s "$d/conflicts" ]; then head -n 10 "$d/conflicts"; exit 3; fi',
  'ref() { chown --reference="$2" -- "$1" 2>/dev/null; chmod --reference="$2" -- "$1" && touch -r "$2" -- "$1"; }',
  'ref . "$t" || exit 4',
  `xargs -0 -r sh -c '
t=$1; shift
for p do
  q=$t/$p
  if [ -d "$q" ] && [ ! -L "$q" ]; then
    chown --reference="$q" -- "$p" 2>/dev/null
    chmod --reference="$q" -- "$p" && touch -r "$q" -- "$p" || exit 255
  fi
done' sh "$t" || exit 4`,
  'cp -a --remove-destination -T -- . "$t/" || exit 5',
].join("\n");

/** Overwrite's last step, after a complete extraction into `<dir>/tree`; `implicit` as from `implicitDirectories()`. */
export async function copyOver(
  job: DirectoryRestoreJob,
  dir: string,
  target: string,
  implicit: string[],
): Promise<void> {
  const where = `${target} on ${job.serverName}`;
  const input = implicit.length ? Buffer.from(`${implicit.join("\0")}\0`) : "";
  // Not cancelled: stopping cp halfway would leave the target half-overwritten.
  const r = await runCommand(job.reach, ["sh", "-c", COPY, "sh", dir, target], { input });
  if (r.code === 3) {
    const paths = r.stdout.split("\n").filter(Boolean);
    throw new AppError(
      "VALIDATION",
      `In ${where}, ${paths.map((p) => show(p)).join(", ")}${paths.length >= 10 ? " (and maybe more)" : ""} ${paths.length > 1 ? "are" : "is"} a symbolic link or a file where the backup has a folder (or a folder where it has a file). Nothing was changed: move those away, or restore into a new folder.`,
    );
  }
  if (r.code === 4)
    throw new AppError(
      "UPSTREAM",
      `Could not prepare the copy over ${where}: ${firstLines(r.stderrTail) || "exit 4"}. Nothing was changed.`,
    );
  if (r.code !== 0)
    throw new AppError(
      "UPSTREAM",
      `Copying over ${where} failed: ${firstLines(r.stderrTail) || `exit ${r.code ?? r.signal}`}. Part of the folder may already be restored: run the restore again once the cause is fixed.`,
    );
}

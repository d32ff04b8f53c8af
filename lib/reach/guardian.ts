import "server-only";
import { AppError } from "@/lib/errors";
import { firstLines, lineReader } from "./output";
import { runCommand } from "./run-command";
import type { ExitResult, Reach } from "./types";

/**
 * Guardians: scripts that hold a folder on the server while their stdin stays open. Each prints
 * "ready <folder>" once it exists; EOF on stdin (Coffer's `end()`, or sshd's when the connection is
 * lost) or TERM/HUP/INT removes what it created. Why: docs/design/remote-commands.md#guardians.
 */

/** $1 parent, $2 name, $3… subfolders: holds `$1/$2-XXXXXX` (0700); the parent's modification time is put back on removal. */
const PRIVATE_FOLDER = [
  "umask 077",
  "t=${1%/}; n=$2; shift 2",
  'before=$(stat -c %y -- "$t/") || exit 1',
  'd=$(mktemp -d "$t/$n-XXXXXX") || exit 1',
  "clean() {",
  '  rm -rf -- "$d" 2>/dev/null || { chmod -R u+rwX -- "$d" 2>/dev/null; rm -rf -- "$d"; }',
  "  r=$?",
  '  touch -c -m -d "$before" -- "$t/" 2>/dev/null',
  "  return $r",
  "}",
  "trap clean EXIT",
  "trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM",
  'for s do mkdir -- "$d/$s" || exit 1; done',
  'printf "ready %s\\n" "$d"',
  "cat >/dev/null",
  "trap - EXIT",
  "clean",
].join("\n");

/**
 * $1 target: creates it (and missing parents), or checks that it is an empty folder (else exit 3).
 * A line "keep" ends it keeping everything; otherwise it removes the highest folder it created,
 * or the contents of the folder that existed empty.
 */
const NEW_FOLDER = [
  "t=$1; top=; p=$t",
  'while [ ! -e "$p" ] && [ ! -L "$p" ]; do top=$p; p=$(dirname -- "$p"); done',
  'if [ -z "$top" ]; then',
  '  if [ ! -d "$t" ]; then echo "$t is not a folder" >&2; exit 3; fi',
  '  if [ -n "$(ls -A -- "$t/" | head -n 1)" ]; then echo "$t is not empty" >&2; exit 3; fi',
  "fi",
  "clean() {",
  '  if [ -n "$top" ]; then rm -rf -- "$top" 2>/dev/null || { chmod -R u+rwX -- "$top" 2>/dev/null; rm -rf -- "$top"; }',
  '  else find -H "$t" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} + 2>/dev/null || { find -H "$t" -mindepth 1 -maxdepth 1 -exec chmod -R u+rwX -- {} + 2>/dev/null; find -H "$t" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +; }; fi',
  "}",
  "trap clean EXIT",
  "trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM",
  'if [ -n "$top" ]; then mkdir -p -- "$t" || exit 1; fi',
  'printf "ready %s\\n" "$t"',
  "IFS= read -r verdict || verdict=",
  'if [ "$verdict" = keep ]; then trap - EXIT; exit 0; fi',
  "trap - EXIT",
  "clean",
].join("\n");

/**
 * $1 parent, $2 name: removes every `$1/$2-XXXXXX` folder (what PRIVATE_FOLDER makes) and prints
 * how many; the parent's modification time is put back, as the guardian does.
 */
const REMOVE_FOLDERS = [
  "t=${1%/}; n=$2; found=0",
  'before=$(stat -c %y -- "$t/" 2>/dev/null) || { echo 0; exit 0; }',
  'for d in "$t/$n"-??????; do',
  '  [ -d "$d" ] && [ ! -L "$d" ] || continue',
  '  rm -rf -- "$d" 2>/dev/null || { chmod -R u+rwX -- "$d" 2>/dev/null; rm -rf -- "$d"; } || exit 1',
  "  found=$((found+1))",
  "done",
  '[ "$found" -gt 0 ] && touch -c -m -d "$before" -- "$t/" 2>/dev/null',
  'echo "$found"',
].join("\n");

interface Guardian {
  /** The folder it holds. */
  readonly dir: string;
  /**
   * Sends `verdict` ("keep\n" keeps a new folder; nothing removes what is held), closes the
   * guardian's stdin and resolves with its exit once it is done. Later calls get the first result.
   */
  end(verdict?: string): Promise<ExitResult>;
}

/** `failed`: the guardian did not get ready; its exit says why. */
type GuardianStart = { guardian: Guardian } | { failed: ExitResult };

/** Holds a new private folder `<parent>/<name>-XXXXXX` (0700) with `subfolders` inside. */
export function holdPrivateFolder(
  reach: Reach,
  parent: string,
  name: string,
  opts: { subfolders?: string[]; signal?: AbortSignal } = {},
): Promise<GuardianStart> {
  const base = parent.replace(/\/+$/, "");
  const argv = ["sh", "-c", PRIVATE_FOLDER, "sh", base, name, ...(opts.subfolders ?? [])];
  return startGuardian(reach, argv, (dir) => dir.startsWith(`${base}/${name}-`), opts.signal);
}

/**
 * Removes the private folders `<parent>/<name>-XXXXXX` a guardian could not remove (its process
 * was killed with the connection's other end, or the server restarted); resolves with how many.
 * Only for names whose holder is known to be gone.
 */
export async function removeHeldFolders(reach: Reach, parent: string, name: string): Promise<number> {
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name))
    throw new AppError("VALIDATION", `"${name}" is not a folder name Coffer makes.`);
  const r = await runCommand(reach, ["sh", "-c", REMOVE_FOLDERS, "sh", parent.replace(/\/+$/, ""), name]);
  if (r.code !== 0)
    throw new AppError(
      "UPSTREAM",
      `Could not remove ${parent}/${name}-… on ${reach.label}: ${firstLines(r.stderrTail) || `exit ${r.code}`}.`,
    );
  return Number(r.stdout.trim()) || 0;
}

/** Holds `target` as a new folder (see NEW_FOLDER); `failed` with exit 3 when it exists and is not an empty folder. */
export function holdNewFolder(
  reach: Reach,
  target: string,
  opts: { signal?: AbortSignal } = {},
): Promise<GuardianStart> {
  return startGuardian(reach, ["sh", "-c", NEW_FOLDER, "sh", target], (dir) => dir === target, opts.signal);
}

async function startGuardian(
  reach: Reach,
  argv: string[],
  expected: (dir: string) => boolean,
  signal: AbortSignal | undefined,
): Promise<GuardianStart> {
  // Deliberately not tied to `signal`: it must outlive a cancellation long enough to clean up.
  const cmd = reach.exec(argv, { stdin: true });
  let ending: Promise<ExitResult> | undefined;
  const end = (verdict = "") =>
    (ending ??= (async () => {
      cmd.stdin!.end(verdict);
      return await cmd.exit;
    })());
  const line = await Promise.race([
    lineReader(cmd.stdout).next(),
    new Promise<undefined>((r) => signal?.addEventListener("abort", () => r(undefined), { once: true })),
  ]);
  const dir = line?.startsWith("ready ") ? line.slice(6) : undefined;
  if (dir !== undefined && expected(dir)) return { guardian: { dir, end } };
  void end().catch(() => {});
  signal?.throwIfAborted();
  const exit = await cmd.exit.catch((e: unknown) => ({
    code: null,
    signal: null,
    stderrTail: e instanceof Error ? e.message : String(e),
  }));
  return { failed: exit };
}

import "server-only";
import { AppError } from "@/lib/errors";
import { firstLines, runCommand, type ExitResult, type Reach } from "@/lib/reach";
import { compressorArgv, type Compressor } from "../compression";
import type { ManifestEntry } from "../manifest";

/** How the server computes SHA-256: `openssl dgst` is several times faster than coreutils' sha256sum where both exist. */
export type Hasher = "openssl" | "sha256sum";

/**
 * $1 spool, $2 hasher: copies standard input to standard output while a reader of each FIFO hashes
 * and counts it (results in `$1.sha256`, `$1.bytes`).
 */
const MEASURE = [
  "s=$1",
  'mkfifo -m 600 -- "$s.hash" "$s.size" || exit 125',
  'if [ "$2" = openssl ]; then openssl dgst -sha256 -r <"$s.hash" >"$s.sha256" & else sha256sum <"$s.hash" >"$s.sha256" & fi',
  "h=$!",
  'wc -c <"$s.size" >"$s.bytes" &',
  "n=$!",
  'tee -- "$s.hash" "$s.size"',
  "r=$?",
  'wait "$h" || r=1',
  'wait "$n" || r=1',
  'exit "$r"',
].join("\n");

/** $1 file, then a command: runs the command with its standard output going to the file. */
const INTO_FILE = 'f=$1; shift; exec "$@" >"$f"';

/** $1 spool: prints the size and hash MEASURE found, then removes its files. */
const RESULT = 'cat -- "$1.bytes" "$1.sha256" && rm -f -- "$1.hash" "$1.size" "$1.bytes" "$1.sha256"';

export interface SpoolTools {
  compressor: Compressor;
  hasher: Hasher;
}

/**
 * Runs `producer` on the server with its output compressed into `spool` (gzip, in the private
 * folder) while the plain bytes are counted and hashed, in one pass: the server never holds the
 * plain output. Resolves with the exit status (pipefail: the producer's failure is not hidden
 * by the stages after it); `measured()` then reads the size and SHA-256.
 */
export function spoolOutput(
  reach: Reach,
  producer: string[],
  spool: string,
  tools: SpoolTools,
  opts: { env?: Record<string, string>; signal: AbortSignal },
): Promise<ExitResult> {
  const cmd = reach.execPipeline(
    [
      producer,
      ["sh", "-c", MEASURE, "sh", spool, tools.hasher],
      ["sh", "-c", INTO_FILE, "sh", spool, ...compressorArgv(tools.compressor)],
    ],
    opts,
  );
  cmd.stdout.resume();
  return cmd.exit;
}

/** The size and SHA-256 of what `spoolOutput` compressed into `spool`, as the manifest entry `path`. */
export async function measured(reach: Reach, spool: string, path: string, signal: AbortSignal): Promise<ManifestEntry> {
  const r = await runCommand(reach, ["sh", "-c", RESULT, "sh", spool], { signal });
  const [bytes, hash] = r.stdout.split("\n").map((l) => l.trim());
  const size = Number(bytes);
  const sha256 = /^[0-9a-f]{64}\b/.exec(hash ?? "")?.[0];
  if (r.code !== 0 || !Number.isSafeInteger(size) || !sha256)
    throw new AppError(
      "UPSTREAM",
      `Could not measure ${path} on ${reach.label}: ${firstLines(r.stderrTail) || r.stdout.slice(0, 200) || `exit ${r.code}`}.`,
    );
  return { path, size, sha256 };
}

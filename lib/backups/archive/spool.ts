import "server-only";
import { AppError } from "@/lib/errors";
import { firstLines, runCommand, type ExitResult, type Reach } from "@/lib/reach";
import { compressorArgv, type Compressor } from "../compression";
import type { ManifestEntry } from "../manifest";

/**
 * Copies standard input to standard output in 1 MiB reads while counting and hashing it (SHA-256
 * through OpenSSL), then writes "<bytes>\n<sha256>\n" to `<argv[1]>.measured`. A write to a
 * closed output ends it quietly: the stage after it says why.
 */
const MEASURE_PY = `import hashlib, os, sys
h, n, i, o = hashlib.sha256(), 0, sys.stdin.fileno(), sys.stdout.fileno()
try:
    import fcntl
    for fd in (i, o):
        fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ: fewer, larger reads and writes
except Exception:
    pass
try:
    while True:
        b = os.read(i, 1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
        v = memoryview(b)
        while v:
            v = v[os.write(o, v):]
except OSError:
    sys.exit(1)
with open(sys.argv[1] + ".measured", "w") as f:
    f.write("%d\\n%s\\n" % (n, h.hexdigest()))
`;

/**
 * $1 spool, $2 MEASURE_PY: measures the stream with python3 where there is one (about half the
 * CPU of the fallback), else with tee into FIFOs read by a hasher (openssl, several times faster
 * than coreutils' sha256sum, else sha256sum) and wc. Measured: docs/design/archive.md#compression.
 */
const MEASURE = [
  "s=$1",
  'if command -v python3 >/dev/null 2>&1; then exec python3 -c "$2" "$s"; fi',
  'mkfifo -m 600 -- "$s.hash" "$s.size" || exit 125',
  'if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r <"$s.hash" >"$s.sha256" & else sha256sum <"$s.hash" >"$s.sha256" & fi',
  "h=$!",
  'wc -c <"$s.size" >"$s.bytes" &',
  "n=$!",
  'tee -- "$s.hash" "$s.size"',
  "r=$?",
  'wait "$h" || r=1',
  'wait "$n" || r=1',
  '[ "$r" -eq 0 ] && cat -- "$s.bytes" "$s.sha256" >"$s.measured"',
  'rm -f -- "$s.hash" "$s.size" "$s.bytes" "$s.sha256"',
  'exit "$r"',
].join("\n");

/** $1 file, then a command: runs the command with its standard output going to the file. */
const INTO_FILE = 'f=$1; shift; exec "$@" >"$f"';

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
  compressor: Compressor,
  opts: { env?: Record<string, string>; signal: AbortSignal },
): Promise<ExitResult> {
  const cmd = reach.execPipeline(
    [
      producer,
      ["sh", "-c", MEASURE, "sh", spool, MEASURE_PY],
      ["sh", "-c", INTO_FILE, "sh", spool, ...compressorArgv(compressor)],
    ],
    opts,
  );
  cmd.stdout.resume();
  return cmd.exit;
}

/** The size and SHA-256 of what `spoolOutput` compressed into `spool`, as the manifest entry `path`. */
export async function measured(reach: Reach, spool: string, path: string, signal: AbortSignal): Promise<ManifestEntry> {
  const r = await runCommand(reach, ["cat", "--", `${spool}.measured`], { signal });
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

import "server-only";
import { AppError } from "@/lib/errors";
import { firstLines, type ExitResult, type Reach } from "@/lib/reach";
import { compressorArgv, type Compressor } from "../compression";
import type { ManifestEntry } from "../manifest";

type CommandOutput = ExitResult & { stdout: string };

/**
 * Copies standard input to standard output in 1 MiB reads into one reused buffer (a fresh 1 MiB
 * object per read costs page faults) while counting and hashing it (SHA-256 through OpenSSL),
 * then writes "<bytes>\n<sha256>\n" to `<argv[1]>.measured`. Where fd 5 is open, writes
 * "p <size>\n" there at most once a second: the compressed spool's size so far. A write to a
 * closed output ends it quietly: the stage after it says why.
 */
const MEASURE_PY = `import hashlib, os, sys, time
h, n, i, o = hashlib.sha256(), 0, sys.stdin.fileno(), sys.stdout.fileno()
try:
    import fcntl
    for fd in (i, o):
        fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ: fewer, larger reads and writes
except Exception:
    pass
try:
    os.fstat(5)
    p, t = 5, time.monotonic()
except OSError:
    p = None
b = bytearray(1 << 20)
m = memoryview(b)
try:
    while True:
        k = os.readv(i, [b])
        if not k:
            break
        v = m[:k]
        h.update(v)
        n += k
        while v:
            v = v[os.write(o, v):]
        if p is not None and time.monotonic() - t >= 1:
            t = time.monotonic()
            try:
                z = os.stat(sys.argv[1]).st_size
            except FileNotFoundError:
                continue
            os.write(p, b"p %d\\n" % z)
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

/**
 * $1 spool, $2 MEASURE, $3 MEASURE_PY, $4 and $5 the compressor, then the producer:
 * `producer | measure | compressor > spool` joined by kernel pipes in one shell (Coffer's local
 * commands are joined by socket pairs, which cost this pipeline a fifth of its time), pipefail's
 * status as its own (every stage reports "index status" on fd 4, as in lib/reach/script.ts), the
 * measuring stage's progress lines (its fd 5) on standard output, and on success the measurements
 * after them.
 */
const SPOOL = [
  "s=$1 m=$2 p=$3 z=$4 l=$5",
  "shift 5",
  "exec 3>&1",
  'c=$( { { "$@" 5>&- 4>&-; echo "0 $?" >&4; } | { sh -c "$m" sh "$s" "$p" 4>&-; echo "1 $?" >&4; } | { "$z" "$l" >"$s" 5>&- 4>&-; echo "2 $?" >&4; }; } 4>&1 >&3 5>&3 3>&- )',
  "exec 3>&-",
  "r=0 b=-1",
  "set -- $c",
  'while [ "$#" -ge 2 ]; do if [ "$2" -ne 0 ] && [ "$1" -gt "$b" ]; then b=$1; r=$2; fi; shift 2; done',
  '[ "$r" -eq 0 ] || exit "$r"',
  'exec cat -- "$s.measured"',
].join("\n");

/**
 * Runs `producer` on the server with its output compressed into `spool` (gzip, in the private
 * folder) while the plain bytes are counted and hashed, in one pass: the server never holds the
 * plain output. `onProgress` hears the spool's size about once a second (where the server has
 * python3). Resolves with the exit status (pipefail: the producer's failure is not hidden by the
 * stages after it) and, on success, the measurements `measured()` reads.
 */
export async function spoolOutput(
  reach: Reach,
  producer: string[],
  spool: string,
  compressor: Compressor,
  opts: { env?: Record<string, string>; signal: AbortSignal; onProgress?: (spooledBytes: number) => void },
): Promise<CommandOutput> {
  const { onProgress, ...execOpts } = opts;
  const [tool, level] = compressorArgv(compressor);
  const cmd = reach.exec(["sh", "-c", SPOOL, "sh", spool, MEASURE, MEASURE_PY, tool!, level!, ...producer], execOpts);
  let stdout = "";
  let partial = "";
  try {
    for await (const text of cmd.stdout.setEncoding("utf8") as AsyncIterable<string>) {
      const lines = (partial + text).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith("p ")) onProgress?.(Number(line.slice(2)));
        else stdout += `${line}\n`;
      }
    }
  } catch {
    // the reason is in `exit`
  }
  return { ...(await cmd.exit), stdout: stdout + partial };
}

/** The size and SHA-256 of what `spoolOutput` compressed (its successful output), as the manifest entry `path`. */
export function measured(reach: Reach, out: CommandOutput, path: string): ManifestEntry {
  const [bytes, hash] = out.stdout.split("\n").map((l) => l.trim());
  const size = Number(bytes);
  const sha256 = /^[0-9a-f]{64}\b/.exec(hash ?? "")?.[0];
  if (out.code !== 0 || !bytes || !Number.isSafeInteger(size) || !sha256)
    throw new AppError(
      "UPSTREAM",
      `Could not measure ${path} on ${reach.label}: ${firstLines(out.stderrTail) || out.stdout.slice(0, 200) || `exit ${out.code}`}.`,
    );
  return { path, size, sha256 };
}

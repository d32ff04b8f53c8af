import "server-only";
import type { Readable, Writable } from "node:stream";

export interface ExecOptions {
  /** Aborting kills the command (its whole process group) and settles `exit` with the abort reason. */
  signal?: AbortSignal;
  /** Expose the command's standard input. Without it the command reads /dev/null. */
  stdin?: boolean;
  /** Absolute working directory. */
  cwd?: string;
  /**
   * Extra environment variables (names `[A-Za-z_][A-Za-z0-9_]*`, values without NUL or newline).
   * Meant for secrets such as PGPASSWORD: over SSH they travel on the channel's standard input
   * and are read by the shell, so they never appear in a command line (`ps`) or a log.
   */
  env?: Record<string, string>;
}

export interface ExitResult {
  /** Exit status; null when the command was killed by a signal. Over SSH a shell reports a child
   * killed by signal N as 128+N. */
  code: number | null;
  /** e.g. "SIGTERM", or null. */
  signal: string | null;
  /** The last 64 KiB of standard error (UTF-8), for error messages and run logs. */
  stderrTail: string;
}

/**
 * A command that is running.
 * - Read `stdout` (and await `exit`) concurrently: the command is back-pressured by `stdout`.
 * - `stdout` ends only once the command has exited (or, over SSH, the channel closed with an
 *   exit status); when the command is cancelled or the connection is lost it is destroyed with
 *   that error instead, so a consumer never mistakes a cut-off stream for a complete one.
 *   A complete stream with a non-zero `code` is still a failure: always check `exit`.
 * - `stderr` never blocks the command: it is drained internally (its tail lands in
 *   `ExitResult.stderrTail`); if nobody reads the `stderr` stream, data beyond 1 MiB is dropped
 *   from it.
 * - `exit` rejects with the abort reason on cancellation (after the command is gone, or after a
 *   few seconds if it could not be confirmed) and with an AppError when the connection is lost.
 */
export interface RunningCommand {
  stdout: Readable;
  stderr: Readable;
  /** Present with `{ stdin: true }`; end() it to send EOF. */
  stdin?: Writable;
  exit: Promise<ExitResult>;
}

/** `length` bytes from byte `start` (0-based). */
export interface FileRange {
  start: number;
  length: number;
}

export interface Reach {
  /** Where commands run, for messages and logs: "root@db1.example.com:22" or "local". */
  readonly label: string;
  /** Runs one program with an argument vector (never a shell string). */
  exec(argv: string[], opts?: ExecOptions): RunningCommand;
  /**
   * Runs programs connected stdout → stdin, e.g. `[["pg_dump", …], ["gzip", "-6"]]`.
   * `exit` follows `pipefail`: the status of the rightmost stage that failed, else 0 — so a
   * failing `pg_dump` is not hidden behind a successful `gzip`.
   */
  execPipeline(stages: string[][], opts?: ExecOptions): RunningCommand;
  /**
   * The file's contents, or `range`'s bytes of it (`cat` or `dd` over SSH). Rejects if it cannot
   * be opened; errors, never ends, if reading fails later or the range is cut short.
   */
  readFile(path: string, opts?: { signal?: AbortSignal; range?: FileRange }): Promise<Readable>;
  /**
   * Writes `body` to a temporary name next to `path`, syncs it, then renames it over `path`:
   * readers see the old file or the whole new one, never a partial one; on failure or abort
   * the temporary file is removed. `mode` defaults to 0o600. `tag` (letters, digits, `_`, `-`)
   * goes into the temporary name, `.<name>.coffer-<tag>-<random>.tmp`, so what a process that died
   * mid-write left can be found by it.
   */
  writeFile(path: string, body: Readable, opts?: { signal?: AbortSignal; mode?: number; tag?: string }): Promise<void>;
  /** Kills commands still running, then disconnects. Idempotent. */
  close(): Promise<void>;
}

import "server-only";
import { PassThrough, type Readable } from "node:stream";
import { AppError } from "@/lib/errors";
import type { ExecOptions, ExitResult, RunningCommand } from "./types";

const TAIL_BYTES = 64 * 1024;
const STDERR_UNREAD_CAP = 1024 * 1024;
/** After a cancel, how long to wait for the command to be confirmed gone before settling anyway. */
export const CANCEL_SETTLE_MS = 5_000;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Checks argument vectors and options the same way for every transport (AppError VALIDATION). */
export function validateExec(stages: string[][], opts: ExecOptions): void {
  if (!Array.isArray(stages) || stages.length === 0) throw invalid("A command needs at least one program.");
  for (const argv of stages) {
    if (!Array.isArray(argv) || argv.length === 0 || !argv[0]) throw invalid("A command needs a program name.");
    for (const arg of argv) {
      if (typeof arg !== "string") throw invalid("Command arguments must be strings.");
      if (arg.includes("\0")) throw invalid("Command arguments cannot contain NUL bytes.");
    }
  }
  if (
    opts.cwd !== undefined &&
    (typeof opts.cwd !== "string" || !opts.cwd.startsWith("/") || opts.cwd.includes("\0"))
  ) {
    throw invalid("The working directory must be an absolute path.");
  }
  for (const [name, value] of Object.entries(opts.env ?? {})) {
    if (!ENV_NAME.test(name) || name === "IFS" || name.startsWith("coffer_")) {
      throw invalid(`"${name.slice(0, 64)}" is not a valid environment variable name here.`);
    }
    if (typeof value !== "string" || /[\0\n]/.test(value)) {
      throw invalid(`The value of ${name} cannot contain NUL or newline characters.`); // never echo the value
    }
  }
}

const invalid = (message: string) => new AppError("VALIDATION", message);

export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

/**
 * The transport-independent half of a RunningCommand: exposed streams, the stderr tail, and the
 * rules for when `exit` settles. A transport feeds it (attachStdout, pushStderr/endStderr,
 * exited, closed) and gives it `terminate`, which starts killing the command.
 */
export class CommandPlumbing implements RunningCommand {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly exit: Promise<ExitResult>;
  stdin?: RunningCommand["stdin"];

  private resolveExit!: (r: ExitResult) => void;
  private rejectExit!: (e: unknown) => void;
  private tail: Buffer[] = [];
  private tailLength = 0;
  private stdoutSource?: Readable;
  private outEnded = false;
  private errEnded = false;
  private info?: ExitInfo;
  private isClosed = false;
  private delivered = false;
  private settled = false;
  private cancelReason?: unknown;
  private cancelTimer?: NodeJS.Timeout;
  private terminate: () => void = () => {};

  constructor(signal?: AbortSignal) {
    this.exit = new Promise<ExitResult>((resolve, reject) => {
      this.resolveExit = resolve;
      this.rejectExit = reject;
    });
    // A caller that never awaits `exit` must not crash the process with an unhandled rejection,
    // and a stream destroyed with an error must not either when nobody listens to it.
    this.exit.catch(() => {});
    this.stdout.on("error", () => {});
    this.stderr.on("error", () => {});
    // The consumer gave up on the output (e.g. the upload it feeds failed): nobody will read the
    // rest, so stop the command rather than leave it blocked forever.
    this.stdout.on("close", () => {
      if (!this.delivered && !this.settled && this.cancelReason === undefined) {
        this.cancel(
          this.stdout.errored ??
            new AppError("INTERNAL", "The command's output was closed before the command finished."),
        );
      }
    });
    if (signal) {
      const onAbort = () => this.cancel(signal.reason);
      if (signal.aborted) queueMicrotask(onAbort);
      else {
        signal.addEventListener("abort", onAbort, { once: true });
        this.exit.then(
          () => signal.removeEventListener("abort", onAbort),
          () => signal.removeEventListener("abort", onAbort),
        );
      }
    }
  }

  get cancelled(): boolean {
    return this.cancelReason !== undefined;
  }

  /** The transport's way to kill the command; may be called before it exists. */
  setTerminate(terminate: () => void): void {
    this.terminate = terminate;
    if (this.cancelReason !== undefined) terminate();
  }

  attachStdout(source: Readable): void {
    this.stdoutSource = source;
    if (this.cancelReason !== undefined || this.settled) {
      source.resume();
    } else {
      source.pipe(this.stdout, { end: false });
    }
    source.once("end", () => {
      this.outEnded = true;
      this.check();
    });
    source.on("error", (e) => this.fail(e));
  }

  pushStderr(chunk: Buffer): void {
    this.tail.push(chunk);
    this.tailLength += chunk.length;
    while (this.tailLength - (this.tail[0]?.length ?? 0) >= TAIL_BYTES && this.tail.length > 1) {
      this.tailLength -= this.tail.shift()!.length;
    }
    if (!this.stderr.destroyed && !this.stderr.writableEnded && this.stderr.readableLength < STDERR_UNREAD_CAP) {
      this.stderr.write(chunk);
    }
  }

  endStderr(): void {
    this.errEnded = true;
    this.check();
  }

  stderrTail(): string {
    const all = Buffer.concat(this.tail);
    return all.subarray(Math.max(0, all.length - TAIL_BYTES)).toString("utf8");
  }

  /** The command's exit status is known. */
  exited(info: ExitInfo): void {
    this.info ??= info;
    this.check();
  }

  /** The transport is done with this command (channel closed, process reaped). */
  closed(lost?: () => unknown): void {
    this.isClosed = true;
    if (this.settled) return;
    if (this.cancelReason !== undefined) return this.settleReject(this.cancelReason);
    if (!this.info) return this.fail(lost?.() ?? new AppError("UPSTREAM", "The command ended without an exit status."));
    this.check();
  }

  /** Kill the command; `exit` rejects with `reason` once it is gone (or after CANCEL_SETTLE_MS). */
  cancel(reason: unknown): void {
    if (this.settled || this.cancelReason !== undefined) return;
    this.cancelReason = reason ?? new AppError("INTERNAL", "The command was cancelled.");
    this.destroyStreams(this.cancelReason);
    this.terminate();
    if (this.isClosed) return this.settleReject(this.cancelReason);
    this.cancelTimer = setTimeout(() => this.settleReject(this.cancelReason), CANCEL_SETTLE_MS);
    this.cancelTimer.unref?.();
  }

  /** The command failed for a reason other than its exit status (connection lost, spawn error). */
  fail(error: unknown): void {
    if (this.settled) return;
    this.destroyStreams(error);
    if (this.cancelReason === undefined) this.terminate();
    this.settleReject(error);
  }

  private destroyStreams(error: unknown): void {
    // Keep the source flowing (discarding) so the transport can see the command end.
    if (this.stdoutSource) {
      this.stdoutSource.unpipe(this.stdout);
      this.stdoutSource.resume();
    }
    const err = error instanceof Error ? error : new Error(String(error));
    if (!this.stdout.destroyed) this.stdout.destroy(err);
    if (!this.stderr.destroyed) this.stderr.destroy(err);
  }

  private check(): void {
    if (this.settled || this.cancelReason !== undefined) return;
    if (!this.info || !this.isClosed || !this.outEnded || !this.errEnded) return;
    this.settled = true;
    this.delivered = true;
    this.stdout.end();
    this.stderr.end();
    this.resolveExit({ ...this.info, stderrTail: this.stderrTail() });
  }

  private settleReject(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.cancelTimer);
    this.rejectExit(error);
  }
}

/** Normalises "TERM" / "SIGTERM" to "SIGTERM". */
export function signalName(signal: string | null | undefined): string | null {
  if (!signal) return null;
  return signal.startsWith("SIG") ? signal : `SIG${signal}`;
}

/** Destroys `stream` with the signal's reason when it aborts (already aborted: at once). */
export function destroyOnAbort<T extends Readable>(stream: T, signal: AbortSignal | undefined): T {
  if (!signal) return stream;
  const onAbort = () =>
    stream.destroy(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
  if (signal.aborted) onAbort();
  signal.addEventListener("abort", onAbort, { once: true });
  stream.once("close", () => signal.removeEventListener("abort", onAbort));
  return stream;
}

import "server-only";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { childProcessEnv } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { CommandPlumbing, destroyOnAbort, signalName, validateExec, type ExitInfo } from "./command";
import { ReachError } from "./errors";
import { checkPath, temporarySibling } from "./paths";
import { checkFileRange, exactRange } from "./range";
import type { ExecOptions, FileRange, Reach, RunningCommand } from "./types";

const KILL_GRACE_MS = 3_000;

function childEnv(extra: Record<string, string> | undefined): Record<string, string> {
  const env = childProcessEnv();
  env.PATH ??= "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  return { ...env, ...extra };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal); // detached: the child leads its own process group
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** Commands on the machine Coffer runs on: argv to child_process.spawn (no shell), the same
 * semantics as SSH (stdin, env, cwd, pipefail pipelines, cancellation kills the process group). */
export function localReach(): Reach {
  return new LocalReach();
}

class LocalReach implements Reach {
  readonly label = "local";
  private readonly running = new Set<CommandPlumbing>();
  private isClosed = false;

  exec(argv: string[], opts?: ExecOptions): RunningCommand {
    return this.start([argv], opts ?? {});
  }

  execPipeline(stages: string[][], opts?: ExecOptions): RunningCommand {
    return this.start(stages, opts ?? {});
  }

  private start(stages: string[][], opts: ExecOptions): RunningCommand {
    validateExec(stages, opts);
    if (this.isClosed) throw new AppError("INTERNAL", "This local reach was closed.");
    const cmd = new CommandPlumbing(opts.signal);
    this.running.add(cmd);
    cmd.exit.then(
      () => this.running.delete(cmd),
      () => this.running.delete(cmd),
    );
    const env = childEnv(opts.env);
    const children: ChildProcess[] = [];
    const statuses: (ExitInfo | undefined)[] = stages.map(() => undefined);
    let closedCount = 0;
    let stderrOpen = stages.length;
    const stderrEnded = () => {
      if (--stderrOpen === 0) cmd.endStderr();
    };

    stages.forEach((argv, i) => {
      // Stages are joined by kernel pipes, as in a shell: their data never passes through Node.
      const previous = children[i - 1]?.stdout;
      const child: ChildProcess = spawn(argv[0]!, argv.slice(1), {
        cwd: opts.cwd,
        env: env as NodeJS.ProcessEnv, // NODE_ENV is deliberately not passed on
        stdio: [previous ?? (opts.stdin ? "pipe" : "ignore"), "pipe", "pipe"],
        detached: true,
        windowsHide: true,
      });
      // Only the next stage holds the read end now: when it quits, the writer gets EPIPE.
      previous?.destroy();
      children.push(child);
      child.stdin?.on("error", () => {}); // EPIPE when the program exits before reading everything
      child.stdout!.on("error", () => {});
      child.stderr!.on("data", (chunk: Buffer) => cmd.pushStderr(chunk));
      child.stderr!.once("end", stderrEnded);
      let spawnError: NodeJS.ErrnoException | undefined;
      child.once("error", (e: NodeJS.ErrnoException) => {
        spawnError = e;
      });
      child.once("close", (code: number | null, signal: NodeJS.Signals | null) => {
        if (spawnError && child.pid === undefined) {
          // Report like a shell would, so callers treat "program missing" the same locally and over SSH.
          const noCwd = opts.cwd !== undefined && !existsSync(opts.cwd);
          const message = noCwd
            ? `cd: ${opts.cwd}: No such file or directory\n`
            : `${argv[0]}: ${spawnError.code === "ENOENT" ? "command not found" : (spawnError.code ?? "cannot run")}\n`;
          cmd.pushStderr(Buffer.from(message));
          statuses[i] = { code: noCwd ? 125 : spawnError.code === "ENOENT" ? 127 : 126, signal: null };
        } else {
          statuses[i] = { code, signal: signalName(signal) };
        }
        if (++closedCount === stages.length) {
          cmd.exited(pipefail(statuses as ExitInfo[]));
          cmd.closed();
        }
      });
    });

    cmd.attachStdout(children[children.length - 1]!.stdout!);
    if (opts.stdin) cmd.stdin = children[0]!.stdin!;
    cmd.setTerminate(() => {
      for (const child of children) killGroup(child, "SIGTERM");
      const timer = setTimeout(() => children.forEach((c) => killGroup(c, "SIGKILL")), KILL_GRACE_MS);
      timer.unref();
      cmd.exit.then(
        () => clearTimeout(timer),
        () => clearTimeout(timer),
      );
    });
    return cmd;
  }

  async readFile(path: string, opts?: { signal?: AbortSignal; range?: FileRange }): Promise<Readable> {
    checkPath(path);
    const range = checkFileRange(opts?.range);
    opts?.signal?.throwIfAborted();
    const handle = await open(path, "r").catch((e) => {
      throw fileError(e, "read", path);
    });
    try {
      if ((await handle.stat()).isDirectory()) throw new AppError("VALIDATION", `${path} is a folder, not a file.`);
    } catch (error) {
      await handle.close();
      throw error;
    }
    if (!range) return destroyOnAbort(handle.createReadStream({ highWaterMark: 256 * 1024 }), opts?.signal);
    const read = range.length
      ? handle.createReadStream({ highWaterMark: 256 * 1024, start: range.start, end: range.start + range.length - 1 })
      : (await handle.close(), Readable.from([]));
    const exact = exactRange(range, path, this.label);
    read.on("error", (err: Error) => exact.destroy(err));
    exact.on("close", () => read.destroy());
    return destroyOnAbort(read.pipe(exact), opts?.signal);
  }

  async writeFile(
    path: string,
    body: Readable,
    opts?: { signal?: AbortSignal; mode?: number; tag?: string },
  ): Promise<void> {
    checkPath(path);
    const signal = opts?.signal;
    const mode = opts?.mode ?? 0o600;
    signal?.throwIfAborted();
    const tmp = temporarySibling(path, opts?.tag);
    const handle = await open(tmp, "wx", mode).catch((e) => {
      throw fileError(e, "write", path);
    });
    let created = true;
    try {
      await handle.chmod(mode); // open()'s mode is filtered by the umask
      // Chunks that arrive while a write is under way go out together (up to 1 MiB held); fsync before the close.
      await pipeline(body, handle.createWriteStream({ highWaterMark: 1024 * 1024, flush: true }), { signal });
      await rename(tmp, path);
      created = false;
    } catch (error) {
      await handle.close().catch(() => {});
      if (created) await unlink(tmp).catch(() => {});
      if (signal?.aborted) throw signal.reason;
      const code = (error as NodeJS.ErrnoException).code;
      throw typeof code === "string" && code.startsWith("E") ? fileError(error, "write", path) : error;
    }
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    const commands = [...this.running];
    for (const cmd of commands) cmd.cancel(new AppError("INTERNAL", "Coffer is shutting down local commands."));
    await Promise.allSettled(commands.map((c) => c.exit));
  }
}

/** The status of the rightmost stage that failed (bash's pipefail), else the last stage's. */
function pipefail(statuses: ExitInfo[]): ExitInfo {
  for (let i = statuses.length - 1; i >= 0; i--) {
    const s = statuses[i]!;
    if (s.code !== 0) return s;
  }
  return statuses[statuses.length - 1]!;
}

function fileError(error: unknown, action: "read" | "write", path: string): unknown {
  if (error instanceof AppError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return action === "read"
        ? new ReachError("UPSTREAM", "not-found", `${path} does not exist on this machine.`)
        : new ReachError("UPSTREAM", "not-found", `The folder ${dirname(path)} does not exist on this machine.`);
    case "EACCES":
    case "EPERM":
      return new ReachError("UPSTREAM", "permission-denied", `Permission denied: Coffer cannot ${action} ${path}.`);
    case "ENOSPC":
      return new ReachError("UPSTREAM", "file", `No space left on the device holding ${path}.`);
    case "EISDIR":
      return new AppError("VALIDATION", `${path} is a folder, not a file.`);
    default:
      return new ReachError("UPSTREAM", "file", `Could not ${action} ${path}: ${(error as Error).message}`);
  }
}

import "server-only";
import type { Readable } from "node:stream";
import type { Client } from "ssh2";
import { AppError } from "@/lib/errors";
import { CommandPlumbing, validateExec } from "../command";
import { ReachError } from "../errors";
import type { ExecOptions, FileRange, Reach, RunningCommand } from "../types";
import { startCommand } from "./exec";
import type { SshLink } from "./link";
import { readFileOverExec } from "./read-file";
import { SftpFiles } from "./sftp";

/** A Reach over one open SSH connection: commands on channels (exec.ts), files read with `cat` or `dd` (read-file.ts) and written over SFTP (sftp.ts). */
export class SshReach implements Reach, SshLink {
  readonly label: string;
  readonly client: Client;
  isClosed = false;
  private readonly running = new Set<CommandPlumbing>();
  private readonly files = new SftpFiles(this);
  private lostReason?: string;

  constructor(client: Client, label: string) {
    this.client = client;
    this.label = label;
    client.on("error", (e: Error & { level?: string }) => {
      this.lostReason = e.level === "client-timeout" ? "the server stopped answering keepalives" : e.message;
    });
    client.on("close", () => {
      const wasClosed = this.isClosed;
      this.isClosed = true;
      for (const cmd of this.running) cmd.fail(wasClosed ? this.closedError() : this.lostError());
    });
  }

  lostError(what?: string): ReachError {
    return new ReachError(
      "UPSTREAM",
      "connection-lost",
      `The SSH connection to ${this.label} was lost${what ? ` while running ${what}` : ""}${this.lostReason ? ` (${this.lostReason})` : ""}.`,
    );
  }

  private closedError(): ReachError {
    return new ReachError("UPSTREAM", "connection-lost", `The SSH connection to ${this.label} was closed.`);
  }

  assertOpen(): void {
    if (this.isClosed) throw this.closedError();
  }

  track(cmd: CommandPlumbing): void {
    this.running.add(cmd);
    cmd.exit.then(
      () => this.running.delete(cmd),
      () => this.running.delete(cmd),
    );
  }

  exec(argv: string[], opts?: ExecOptions): RunningCommand {
    return this.start([argv], opts ?? {});
  }

  execPipeline(stages: string[][], opts?: ExecOptions): RunningCommand {
    return this.start(stages, opts ?? {});
  }

  private start(stages: string[][], opts: ExecOptions): RunningCommand {
    validateExec(stages, opts);
    this.assertOpen();
    return startCommand(this, stages, opts);
  }

  readFile(path: string, opts?: { signal?: AbortSignal; range?: FileRange }): Promise<Readable> {
    return readFileOverExec(this, path, opts);
  }

  writeFile(path: string, body: Readable, opts?: { signal?: AbortSignal; mode?: number; tag?: string }): Promise<void> {
    return this.files.writeFile(path, body, opts);
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    const commands = [...this.running];
    const stopped = new AppError("UPSTREAM", `The connection to ${this.label} is closing.`);
    for (const cmd of commands) cmd.cancel(stopped);
    // Give the watchdogs the EOF they need and let the channels close (bounded).
    await Promise.race([
      Promise.allSettled(commands.map((c) => c.exit)),
      new Promise((r) => setTimeout(r, 2_000).unref?.()),
    ]);
    this.isClosed = true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.client.destroy();
        resolve();
      }, 2_000);
      timer.unref?.();
      this.client.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.end();
    });
  }
}

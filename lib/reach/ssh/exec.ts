import "server-only";
import { PassThrough } from "node:stream";
import type { ClientChannel } from "ssh2";
import { ReachError } from "../errors";
import { CommandPlumbing, signalName } from "../command";
import { shellQuote } from "../quote";
import { buildRemoteScript, PGID_MARKER } from "../script";
import type { ExecOptions, RunningCommand } from "../types";
import type { SshLink } from "./link";

/** After EOF/kill, how long to wait for the channel to close on its own before closing it. */
const CHANNEL_CLOSE_GRACE_MS = 3_000;

/**
 * Runs `stages` (already validated) over a new channel, wrapped by `buildRemoteScript` so that
 * cancelling or losing the connection kills the whole process group on the server.
 */
export function startCommand(link: SshLink, stages: string[][], opts: ExecOptions): RunningCommand {
  const env = opts.env ?? {};
  const envNames = Object.keys(env);
  const wantsStdin = opts.stdin === true;
  const script = buildRemoteScript(stages, { cwd: opts.cwd, envNames, stdin: wantsStdin });
  const what = stages.map((s) => s[0]).join(" | ");
  const cmd = new CommandPlumbing(opts.signal);
  let stdin: PassThrough | undefined;
  if (wantsStdin) {
    stdin = new PassThrough();
    stdin.on("error", () => {});
    cmd.stdin = stdin;
  }
  link.track(cmd);

  let channel: ClientChannel | undefined;
  let pgid: number | undefined;
  let killWanted = false;
  let closeTimer: NodeJS.Timeout | undefined;
  const closeSoon = () => {
    closeTimer ??= setTimeout(() => channel?.close(), CHANNEL_CLOSE_GRACE_MS);
    closeTimer.unref?.();
  };
  const terminate = () => {
    const ch = channel;
    if (!ch) return; // setTerminate runs this again once the channel is open
    ch.signal("TERM"); // honoured for non-root users; root sessions rely on the rest
    if (!wantsStdin) {
      ch.end(); // EOF on the lifeline: the watchdog kills the process group
      closeSoon();
    } else {
      killWanted = true;
      if (pgid && !link.isClosed) killGroup(link, pgid, () => closeSoon());
      else closeSoon(); // the group id has not arrived yet: killed when it does, else closed
    }
  };

  try {
    link.client.exec(script, (err, ch) => {
      if (err) {
        cmd.fail(
          link.isClosed
            ? link.lostError(what)
            : new ReachError(
                "UPSTREAM",
                "session",
                `${link.label} refused to start ${what} (${err.message}). Too many sessions at once (sshd MaxSessions)?`,
              ),
        );
        return;
      }
      channel = ch;
      ch.on("error", () => {});
      ch.stderr.on("error", () => {});
      let pending: Buffer | undefined = wantsStdin ? Buffer.alloc(0) : undefined;
      ch.stderr.on("data", (chunk: Buffer) => {
        if (pending !== undefined) {
          // The first stderr line is ours: "coffer-pgid:<n>".
          pending = Buffer.concat([pending, chunk]);
          const nl = pending.indexOf(10);
          if (nl < 0 && pending.length < 64) return;
          const first = pending.subarray(0, nl < 0 ? 0 : nl).toString("latin1");
          if (first.startsWith(PGID_MARKER)) {
            const n = Number(first.slice(PGID_MARKER.length));
            if (Number.isInteger(n) && n > 1) {
              pgid = n;
              if (killWanted && !link.isClosed) killGroup(link, n, () => closeSoon());
            }
            chunk = pending.subarray(nl + 1);
          } else chunk = pending;
          pending = undefined;
          if (!chunk.length) return;
        }
        cmd.pushStderr(chunk);
      });
      ch.stderr.on("end", () => {
        if (pending?.length) cmd.pushStderr(pending);
        pending = undefined;
        cmd.endStderr();
      });
      cmd.attachStdout(ch);
      ch.on("exit", (code: number | null, signal?: string) =>
        cmd.exited({ code: code ?? null, signal: signalName(signal) }),
      );
      ch.on("close", () => {
        clearTimeout(closeTimer);
        cmd.closed(() =>
          link.isClosed
            ? link.lostError(what)
            : new ReachError("UPSTREAM", "session", `${what} on ${link.label} ended without an exit status.`),
        );
      });
      // Environment values first, then (if wanted) the caller's stdin; without stdin the
      // channel's input stays open as the lifeline until the command ends or is cancelled.
      if (envNames.length) ch.write(envNames.map((n) => `${env[n]}\n`).join(""));
      if (stdin) stdin.pipe(ch);
      cmd.setTerminate(terminate);
    });
  } catch (error) {
    cmd.fail(link.isClosed ? link.lostError(what) : error);
  }
  return cmd;
}

/** Kills a process group over a fresh channel (for commands that use stdin, no lifeline). */
function killGroup(link: SshLink, pgid: number, then: () => void): void {
  try {
    link.client.exec(shellQuote(["kill", "-TERM", `-${pgid}`]), (err, ch) => {
      if (err) return then();
      ch.on("error", () => {});
      ch.resume();
      ch.stderr.resume();
      ch.on("close", then);
      ch.end();
    });
  } catch {
    then();
  }
}

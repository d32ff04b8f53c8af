import "server-only";
import { Transform, type Readable } from "node:stream";
import { AppError } from "@/lib/errors";
import { destroyOnAbort } from "../command";
import { ReachError } from "../errors";
import { checkPath } from "../paths";
import { checkFileRange, exactRange } from "../range";
import type { ExitResult, FileRange, Reach } from "../types";

/**
 * A remote file's contents through `cat` on an exec channel (`dd` for a range), not SFTP, which
 * took twice the time and CPU (docs/design/remote-commands.md#reading-files). A missing file, a
 * folder or a refusal rejects before the first byte, as SFTP's open did; a failure after it errors
 * the stream, which never ends cleanly unless the command exited 0.
 */
export async function readFileOverExec(
  reach: Reach,
  path: string,
  opts: { signal?: AbortSignal; range?: FileRange } = {},
): Promise<Readable> {
  checkPath(path);
  const range = checkFileRange(opts.range);
  opts.signal?.throwIfAborted();
  // One program, so its exit status is the read's (`tail | head` fails when head stops reading).
  // fullblock: a short read (NFS, FUSE) would otherwise count as a whole block and end the range early.
  const read = range
    ? [
        "dd",
        `if=${path}`,
        "iflag=skip_bytes,count_bytes,fullblock",
        `skip=${range.start}`,
        `count=${range.length}`,
        "bs=1M",
        "status=none",
      ]
    : ["cat", "--", path];
  // C messages, to tell why it failed.
  const cmd = reach.exec(["env", "LC_ALL=C", ...read], { signal: opts.signal });
  const failure = (exit: ExitResult) => readError(exit, path, reach.label);
  let onOutput = () => {};
  const first = await new Promise<"output" | ExitResult>((resolve, reject) => {
    onOutput = () => resolve("output");
    cmd.stdout.once("readable", onOutput);
    cmd.exit.then(resolve, reject);
  }).finally(() => cmd.stdout.off("readable", onOutput));
  if (first !== "output" || cmd.stdout.readableLength === 0) {
    const exit = await cmd.exit;
    if (exit.code !== 0) throw failure(exit);
  }
  const gated = new Transform({
    transform: (chunk: Buffer, _enc, cb) => cb(null, chunk),
    // `stdout` ends only once the exit status is known.
    flush: (cb) => cmd.exit.then((exit) => cb(exit.code === 0 ? null : failure(exit)), cb),
  });
  cmd.stdout.on("error", (err) => gated.destroy(err));
  gated.on("close", () => {
    if (!cmd.stdout.readableEnded) cmd.stdout.destroy(); // the reader gave up: the command stops
  });
  let out: Readable = cmd.stdout.pipe(gated);
  if (range) {
    const exact = exactRange(range, path, reach.label);
    gated.on("error", (err) => exact.destroy(err));
    exact.on("close", () => gated.destroy());
    out = gated.pipe(exact);
  }
  return destroyOnAbort(out, opts.signal);
}

function readError(exit: ExitResult, path: string, label: string): AppError {
  const said = exit.stderrTail.trim().split("\n").at(-1) ?? "";
  // 126 and 127: the program itself could not be run.
  if (exit.code === 126 || exit.code === 127)
    return new ReachError("UPSTREAM", "file", `Could not read ${path} on ${label}: ${said}.`);
  if (/: No such file or directory$/.test(said))
    return new ReachError("UPSTREAM", "not-found", `${path} does not exist on ${label}.`);
  if (/: Permission denied$/.test(said))
    return new ReachError(
      "UPSTREAM",
      "permission-denied",
      `Permission denied: the SSH user cannot read ${path} on ${label}.`,
    );
  if (/: Is a directory$/.test(said)) return new AppError("VALIDATION", `${path} is a folder, not a file.`);
  return new ReachError(
    "UPSTREAM",
    "file",
    `Could not read ${path} on ${label}: ${said.replace(/^(cat|dd): /, "") || `exit ${exit.code ?? exit.signal}`}.`,
  );
}

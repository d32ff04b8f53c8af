import "server-only";
import type { Writable } from "node:stream";
import * as tarStream from "tar-stream";
import { plainCause } from "@/lib/error-text";
import { AppError } from "@/lib/errors";
import { firstLines, type RunningCommand } from "@/lib/reach";
import type { RestoreEntryChecker } from "./entry-checker";
import type { DirectoryRestoreJob, DirectoryRestoreResult } from "./job";
import { repackHeader } from "./repack";
import { drained, untilStopped } from "./streams";

/**
 * Parses the backup's tar, checks every entry, re-packs the accepted ones and streams them into
 * the server's `tar -x` in `into`, with back-pressure throughout. The first failure stops all of it.
 */
export async function extract(
  job: DirectoryRestoreJob,
  checker: RestoreEntryChecker,
  into: string,
  signal: AbortSignal,
): Promise<DirectoryRestoreResult> {
  const { reach } = job;
  signal.throwIfAborted();
  const kill = new AbortController();
  const cmd: RunningCommand = reach.exec(
    ["tar", "--extract", "--file=-", "--preserve-permissions", "--delay-directory-restore", `--directory=${into}`],
    {
      stdin: true,
      signal: AbortSignal.any([signal, kill.signal]),
    },
  );
  const stdin = cmd.stdin! as Writable;
  cmd.stdout.resume();
  const exit = cmd.exit.then(
    (r) => r,
    (e: unknown) => ({ error: e }),
  );

  // The first failure stops everything local; the server's tar is dealt with below.
  const stop = new AbortController();
  const errors: unknown[] = [];
  const fail = (e: unknown) => {
    errors.push(e);
    if (!stop.signal.aborted) stop.abort(e);
  };
  const onAbort = () => fail(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });

  // streamx emits 'error' on destroy; the tasks below see every error, these only keep it from crashing.
  const parser = tarStream.extract();
  const pack = tarStream.pack();
  // The parser emits only its own errors (a damaged or truncated tar), not a destroy by us.
  let parserError: unknown;
  parser.on("error", (e: unknown) => {
    parserError ??= e;
  });
  pack.on("error", () => {});
  stop.signal.addEventListener("abort", () => {
    parser.destroy();
    pack.destroy();
    if (!job.tar.destroyed) job.tar.destroy();
  });

  let consumed = 0;
  let files = 0;
  let bytes = 0;
  let accepted = 0;

  const feeding = (async () => {
    try {
      for await (const chunk of job.tar) {
        const data = chunk as Buffer;
        consumed += data.length;
        job.onBytes?.(consumed);
        if (!parser.write(data)) await drained(parser, stop.signal);
      }
    } catch (error) {
      if (error instanceof AppError || stop.signal.aborted) throw error;
      throw new AppError(
        "UPSTREAM",
        `Reading the backup failed: ${plainCause(error, { step: "extract" })}. Verify the backup, or restore another.`,
      );
    }
    parser.end(null);
  })();

  const checking = (async () => {
    for await (const entry of parser) {
      const checked = checker.check({
        name: entry.header.name,
        type: entry.header.type,
        linkname: entry.header.linkname,
        pax: entry.header.pax as Record<string, string> | null,
      });
      if (!checked) {
        entry.resume();
        continue;
      }
      accepted++;
      const header = repackHeader(entry.header, checked);
      await untilStopped(
        new Promise<void>((resolve, reject) => {
          const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
          sink.on("error", () => {});
          if (checked.type === "file") entry.pipe(sink);
          else {
            entry.resume();
            sink.end(null);
          }
        }),
        stop.signal,
      );
      if (checked.type === "file") bytes += header.size ?? 0;
      if (checked.type === "file" || checked.type === "link") files++;
    }
    pack.finalize();
  })();

  const sending = (async () => {
    for await (const chunk of pack) {
      if (!stdin.write(chunk)) await drained(stdin, stop.signal);
    }
    stdin.end();
  })();

  await Promise.allSettled(
    [feeding, checking, sending].map((task) =>
      task.catch((error: unknown) => {
        fail(error);
      }),
    ),
  );
  signal.removeEventListener("abort", onAbort);

  if (stop.signal.aborted) {
    // One failure causes others (a broken entry destroys the pack too): a refusal, then a damaged
    // archive, then the first failure is the cause.
    let reason: unknown =
      errors.find((e) => e instanceof AppError) ??
      (parserError !== undefined
        ? new AppError(
            "VALIDATION",
            `The archive is damaged or not a tar file: ${parserError instanceof Error ? parserError.message : String(parserError)}.`,
          )
        : stop.signal.reason);
    const checkerRefused = reason instanceof AppError && reason.code === "VALIDATION";
    if (!signal.aborted && !checkerRefused) {
      // Perhaps the server's tar quit first (disk full, permissions): its message is the real cause.
      const early = await Promise.race([exit, new Promise<null>((r) => setTimeout(r, 2_000, null))]);
      if (early && "code" in early && early.code !== 0)
        reason = tarFailed(job, early.code, early.signal, early.stderrTail);
    }
    kill.abort(reason);
    stdin.destroy();
    await exit;
    throw signal.aborted ? signal.reason : reason;
  }

  const result = await exit;
  if ("error" in result) throw result.error;
  if (result.code !== 0) throw tarFailed(job, result.code, result.signal, result.stderrTail);
  if (accepted === 0)
    throw new AppError(
      "VALIDATION",
      `The archive has nothing under ${job.members.join(", ")}: choose folders that this backup contains.`,
    );
  return { files, bytes };
}

function tarFailed(job: DirectoryRestoreJob, code: number | null, sig: string | null, stderr: string) {
  return new AppError(
    "UPSTREAM",
    `Extracting on ${job.serverName} failed (tar exit ${code ?? sig}): ${firstLines(stderr) || "no message"}. Check the free space and permissions of ${job.target}.`,
  );
}

import "server-only";
import { AppError } from "@/lib/errors";
import type { ExecOptions, ExitResult, Reach } from "./types";

export interface CommandOutput extends ExitResult {
  stdout: string;
}

/**
 * Runs a short command to completion and collects its output (for probes such as
 * `pg_dump --version`, `df`, `test -d`). Output above `maxOutputBytes` (default 1 MiB) is an
 * error — stream big outputs with `reach.exec` instead. `input` is written to stdin.
 */
export async function runCommand(
  reach: Reach,
  argv: string[],
  opts: Omit<ExecOptions, "stdin"> & { input?: string | Buffer; maxOutputBytes?: number } = {},
): Promise<CommandOutput> {
  const { input, maxOutputBytes = 1024 * 1024, ...execOpts } = opts;
  const cmd = reach.exec(argv, { ...execOpts, stdin: input !== undefined });
  if (input !== undefined) cmd.stdin!.end(input);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of cmd.stdout) {
      size += (chunk as Buffer).length;
      if (size > maxOutputBytes) {
        cmd.stdout.destroy(
          new AppError("UPSTREAM", `${argv[0]} on ${reach.label} printed more than ${maxOutputBytes} bytes.`),
        );
        break;
      }
      chunks.push(chunk as Buffer);
    }
  } catch {
    // the reason is in `exit`
  }
  const result = await cmd.exit;
  return { ...result, stdout: Buffer.concat(chunks).toString("utf8") };
}

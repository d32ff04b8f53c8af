import "server-only";
import { Transform } from "node:stream";
import { AppError } from "@/lib/errors";
import { ReachError } from "./errors";
import type { FileRange } from "./types";

/** A range of whole numbers ≥ 0, or undefined; a VALIDATION error otherwise. */
export function checkFileRange(range: FileRange | undefined): FileRange | undefined {
  const whole = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (range && !(whole(range.start) && whole(range.length)))
    throw new AppError("VALIDATION", "A file range is a start and a length, whole numbers ≥ 0.");
  return range;
}

/**
 * Passes a range's bytes on, and errors instead of ending when fewer came than the range asked
 * for: the file was shorter than whoever asked for the range knew it to be.
 */
export function exactRange(range: FileRange, path: string, label: string): Transform {
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      cb(
        sent === range.length
          ? null
          : new ReachError(
              "UPSTREAM",
              "file",
              `Could not read ${path} on ${label}: it ended after ${sent} of the ${range.length} bytes asked for (did it change meanwhile?).`,
            ),
      );
    },
  });
}

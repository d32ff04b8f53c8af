import "server-only";
import type { Readable } from "node:stream";
import { PGID_MARKER } from "./script";

/** The first `n` non-empty lines of a command's stderr, trimmed and joined, for error messages. */
export function firstLines(text: string, n = 3): string {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith(PGID_MARKER))
    .slice(0, n)
    .join(" ");
}

/** Reads a command's output line by line; `next()` gives undefined once it ended (or failed). */
export function lineReader(stream: Readable) {
  let buffer = "";
  const queue: string[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffer += chunk;
    let i: number;
    while ((i = buffer.indexOf("\n")) >= 0) {
      queue.push(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
    }
    wake?.();
  });
  const stop = () => {
    ended = true;
    wake?.();
  };
  stream.once("end", stop);
  stream.once("close", stop);
  stream.once("error", stop);
  return {
    async next(): Promise<string | undefined> {
      while (!queue.length && !ended) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      return queue.shift();
    },
  };
}

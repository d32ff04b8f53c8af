import "server-only";
import { Transform } from "node:stream";

/** What any archive may expand to before its ratio counts (a small archive of sparse files). */
const EXPANSION_ALLOWANCE = 16 * 1024 * 1024;

/**
 * Meters for both sides of a gunzip: `compressed` goes before it, `expanded` after it, and fails
 * the stream with `refusal` once what came out exceeds `max` times what went in (plus a small
 * allowance), so a gzip bomb is stopped within a few chunks, never unpacked whole.
 */
export function expansionGuard(max: number, refusal: (expanded: number, compressed: number) => Error) {
  let compressed = 0;
  let expanded = 0;
  return {
    compressed: new Transform({
      transform(chunk: Buffer, _enc, cb) {
        compressed += chunk.length;
        cb(null, chunk);
      },
    }),
    expanded: new Transform({
      transform(chunk: Buffer, _enc, cb) {
        expanded += chunk.length;
        if (expanded > max * compressed + EXPANSION_ALLOWANCE) cb(refusal(expanded, compressed));
        else cb(null, chunk);
      },
    }),
  };
}

import { writeFileSync } from "node:fs";
import path from "node:path";
import { Transform } from "node:stream";
import { env } from "../env";

/**
 * For the crash tests only (COFFER_TEST_PAUSE unset: nothing happens). A run reaching the point the
 * variable names stops there for good, after writing `<DATA_DIR>/paused-<point>`, so a test can
 * kill the process at exactly that moment. Points: `rename` (a finished upload about to be put in
 * place), `stream:<bytes>` (that many archive bytes went out; `stream:0` is while the dump starts),
 * `restore-loaded` and `restore-swap` (a restore's scratch database loaded, before and after its
 * point of no return), `verify-loaded` (a verification's scratch database loaded and counted).
 */
export async function testPause(point: string): Promise<void> {
  if (env().COFFER_TEST_PAUSE !== point) return;
  paused(point);
  await new Promise(() => {});
}

function paused(point: string) {
  writeFileSync(path.join(env().DATA_DIR, `paused-${point.replace(/\W/g, "-")}`), String(process.pid));
}

/** A pass-through that, under `stream:<bytes>`, holds the data once that many bytes went through. */
export function testPauseStream(): Transform | undefined {
  const m = /^stream:(\d+)$/.exec(env().COFFER_TEST_PAUSE ?? "");
  if (!m) return undefined;
  const after = Number(m[1]);
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (seen >= after) return paused(env().COFFER_TEST_PAUSE!); // never calls done: the data stops here
      const room = after - seen;
      seen += chunk.length;
      if (chunk.length <= room) return done(null, chunk);
      this.push(chunk.subarray(0, room));
      paused(env().COFFER_TEST_PAUSE!);
    },
  });
}

import "server-only";
import { PassThrough, Transform, Writable, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { extract } from "tar-stream";
import { openArchive } from "../backups/open-archive";
import { asAppError } from "../errors";
import { gunzip } from "./gunzip";
import type { RestoreCtx, RestoreRow } from "./job";

/** What the user does again when the archive is not readable yet (archive storage). */
export const verbOf = (job: RestoreRow) => (job.kind === "verify" ? "verify it" : "restore it");

/** Counts the plain archive's bytes for progress. */
export function counter(onBytes: (n: number) => void) {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      onBytes(n);
      cb(null, chunk);
    },
  });
}

export const drain = () => new Writable({ write: (_c, _e, cb) => cb() });

/**
 * Streams the backup's archive as tar entries (decrypted and decompressed on the way) to `each`,
 * one at a time; `each` must consume or drain the entry, and may return "stop" to end early.
 */
export async function readEntries(
  ctx: RestoreCtx,
  each: (name: string, type: string, body: Readable) => Promise<"stop" | void>,
): Promise<void> {
  const { body } = await openArchive(ctx.t, ctx.backup, { signal: ctx.signal, verb: verbOf(ctx.job) });
  const tar = extract();
  const feeding = pipeline(body, counter(ctx.onBytes), gunzip(), tar);
  feeding.catch(() => {}); // awaited below when the read runs to its end
  let ended = false;
  try {
    for await (const entry of tar) {
      // tar-stream's entries are streamx streams: hand on a Node stream (errors carried over).
      const entryBody = new PassThrough();
      pipeline(entry as unknown as Readable, entryBody).catch(() => {});
      if ((await each(entry.header.name, entry.header.type ?? "file", entryBody)) === "stop") return;
      entryBody.resume();
    }
    ended = true;
  } finally {
    if (!ended) body.destroy();
  }
  await feeding.catch((err: unknown) => {
    throw ctx.signal.aborted ? ctx.signal.reason : err;
  });
}

/** A message when `err` says the archive itself is damaged (failed authentication, bad gzip or tar), else null. */
export function archiveDamage(err: unknown): string | null {
  const app = asAppError(err);
  if (app) return app.code === "INTERNAL" && /^The backup object/.test(app.message) ? app.message : null;
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === "string" && e.code.startsWith("Z_"))
    return `The archive is not valid gzip data (${String(e.message)}).`;
  if (
    typeof e?.message === "string" &&
    /tar header|Invalid header|Unexpected end of data|Header exceeds/i.test(e.message)
  )
    return `The archive is not a valid tar file (${e.message}).`;
  return null;
}

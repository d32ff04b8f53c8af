import "server-only";
import { PassThrough, Transform, Writable, type Duplex, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { extract } from "tar-stream";
import { expansionGuard } from "../backups/expansion";
import { damagedCopy, openArchive } from "../backups/open-archive";
import { env } from "../env";
import { AppError, asAppError } from "../errors";
import { plainCause } from "../error-text";
import { formatBytes } from "../format";
import { gunzip } from "./gunzip";
import type { RestoreCtx, RestoreRow } from "./job";

/** What the user does again when the archive is not readable yet (archive storage). */
const verbOf = (job: RestoreRow) => (job.kind === "verify" ? "verify it" : "restore it");

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

/**
 * The gunzip stage(s) between the stored archive and tar. An archive without a Coffer manifest
 * (an upload from another tool) is held to the expansion bound its upload had, so it is never
 * unpacked beyond UPLOAD_MAX_EXPANSION times its size on this host; Coffer's own archives are not.
 */
export function gunzipStages(job: RestoreRow, backup: RestoreCtx["backup"]): Duplex[] {
  if (backup.manifest) return [gunzip()];
  const max = env().UPLOAD_MAX_EXPANSION;
  const guard = expansionGuard(
    max,
    (expanded, compressed) =>
      new AppError(
        "VALIDATION",
        `The archive expands to more than ${max} times its size (${formatBytes(expanded)} from the first ${formatBytes(compressed)}; UPLOAD_MAX_EXPANSION), so Coffer stopped reading it before it could ${verbOf(job)}: it has no Coffer manifest, and archives like that are made to exhaust the server. Upload the backup as its tool made it.`,
      ),
  );
  return [guard.compressed, gunzip(), guard.expanded];
}

/** Opens the archive from the fastest stored copy not found damaged, and notes which it is. */
export async function openCopy(ctx: RestoreCtx): Promise<Readable> {
  const { copies } = ctx;
  const { body, from, copy, others } = await openArchive(ctx.t, ctx.backup, {
    signal: ctx.signal,
    verb: verbOf(ctx.job),
    skip: copies.damaged,
  });
  copies.reading = { id: copy, name: from, others };
  if (copies.damaged.size) ctx.say(`Reading the copy in ${from}.`);
  return body;
}

/**
 * Runs `attempt`, which reads the archive through openCopy, and again from the next stored copy
 * while the copy read turns out damaged and another is left; `undo` first removes what the failed
 * attempt made. A restore then succeeds from any intact copy, and its log names the damaged one.
 */
export async function fromIntactCopy<T>(
  ctx: RestoreCtx,
  attempt: () => Promise<T>,
  undo: () => Promise<unknown>,
  damageOf: (err: unknown) => string | null = archiveDamage,
): Promise<T> {
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      const damage = damageOf(err);
      const copy = ctx.copies.reading;
      if (!damage || !copy?.others || ctx.signal.aborted) throw err;
      ctx.copies.damaged.add(copy.id);
      ctx.copies.reading = null;
      ctx.say(`The copy in ${copy.name} cannot be used. ${damage} Trying the next copy…`);
      await undo();
    }
  }
}

export const drain = () => new Writable({ write: (_c, _e, cb) => cb() });

/**
 * Streams the backup's archive as tar entries (decrypted and decompressed on the way) to `each`,
 * one at a time; `each` must consume or drain the entry, and may return "stop" to end early.
 * `linkname` is a link's target (for a hard link, the member it is a second name of), else null.
 */
export async function readEntries(
  ctx: RestoreCtx,
  each: (name: string, type: string, body: Readable, size: number, linkname: string | null) => Promise<"stop" | void>,
): Promise<void> {
  const body = await openCopy(ctx);
  const tar = extract();
  const feeding = pipeline([body, counter(ctx.onBytes), ...gunzipStages(ctx.job, ctx.backup), tar]);
  feeding.catch(() => {}); // awaited below when the read runs to its end
  let ended = false;
  try {
    for await (const entry of tar) {
      // tar-stream's entries are streamx streams: hand on a Node stream (errors carried over).
      const entryBody = new PassThrough();
      pipeline(entry as unknown as Readable, entryBody).catch(() => {});
      const { name, type, size, linkname } = entry.header;
      if ((await each(name, type ?? "file", entryBody, size ?? 0, linkname ?? null)) === "stop") return;
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
  if (app) return damagedCopy(err) ? app.message : null;
  const e = err as { code?: unknown; message?: unknown };
  const gzip = typeof e?.code === "string" && e.code.startsWith("Z_");
  const tar =
    typeof e?.message === "string" &&
    /tar header|Invalid header|Unexpected end of data|Header exceeds/i.test(e.message);
  if (!gzip && !tar) return null;
  return `The archive cannot be read: ${plainCause(err, { step: "read-archive" })}. Verify the backup, or restore another.`;
}

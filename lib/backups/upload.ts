import "server-only";
import { PassThrough, Transform, Writable, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { eq } from "drizzle-orm";
import { backups } from "@/db/schema";
import { db } from "../db";
import { recordAudit } from "../audit/record";
import { env } from "../env";
import { AppError, asAppError } from "../errors";
import { plainCause } from "../error-text";
import { formatBytes } from "../format";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import { storeNewBackup, type ArchiveProducer, type TransferResult } from "./build";
import { expansionGuard } from "./expansion";
import { MANIFEST_FORMAT, MANIFEST_PATH, MAX_MANIFEST_BYTES, parseManifest } from "./manifest";
import { overQuota, reserveLocalRoom, type LocalReservation } from "./quota";
import type { UploadBackupInput } from "./schemas";

/** A tar header's field: the text before its first NUL. */
const field = (head: Buffer, start: number, end: number) =>
  head.subarray(start, end).toString("latin1").replace(/\0.*$/s, "");
const memberName = (head: Buffer) => field(head, 0, 100);
/** The first member's size (octal); Infinity when the header does not say. */
function memberSize(head: Buffer): number {
  const size = parseInt(field(head, 124, 136).trim() || "0", 8);
  return Number.isSafeInteger(size) ? size : Infinity;
}

/**
 * The manifest of a Coffer archive (its first member, `manifest.json`), from the archive's first
 * bytes; null for other archives, another tool's manifest.json included. One that says it is
 * Coffer's (`format`, `backupId`) but is not valid refuses the upload: its times and entries are
 * what the catalogue, restores and verification would trust (a year-0 `finishedAt` cannot be stored).
 */
function manifestFrom(head: Buffer): Record<string, unknown> | null {
  const size = memberSize(head);
  if (memberName(head) !== MANIFEST_PATH || head.length < 512 + size) return null;
  const text = head.subarray(512, 512 + size);
  try {
    return parseManifest(text) as unknown as Record<string, unknown>;
  } catch (err) {
    if (!claimsCoffer(text)) return null;
    throw new AppError("VALIDATION", `${(err as Error).message} Upload the archive as Coffer made it.`);
  }
}

function claimsCoffer(text: Buffer): boolean {
  try {
    const json = JSON.parse(text.toString("utf8")) as { format?: unknown; backupId?: unknown } | null;
    return json?.format === MANIFEST_FORMAT && typeof json.backupId === "string";
  } catch {
    return false;
  }
}

/**
 * When the archive itself was made: its manifest's end, else its first member's modification time
 * (tar header, octal seconds); null when neither says.
 */
function madeAtFrom(head: Buffer, manifest: Record<string, unknown> | null): Date | null {
  if (typeof manifest?.finishedAt === "string") return new Date(manifest.finishedAt);
  const seconds = parseInt(field(head, 136, 148).trim() || "0", 8);
  return Number.isSafeInteger(seconds) && seconds > 0 ? new Date(seconds * 1000) : null;
}

/** Counts what passes; `check(total)` may throw to stop the stream. */
function metered(check: (total: number) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      total += chunk.length;
      try {
        check(total);
        cb(null, chunk);
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}

/**
 * Checks, while it streams past, that the upload is a .tar.gz (gzip intact to its end, a `ustar`
 * first header) that does not expand beyond `maxExpansion` times its size. Resolves with its
 * Coffer manifest, if it has one, else null, and when it was made; rejects saying what the file is not.
 */
function tarGzCheck(maxExpansion: number): { sink: Writable; done: Promise<Archived> } {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  const guard = expansionGuard(
    maxExpansion,
    (expanded, compressed) =>
      new AppError(
        "TOO_LARGE",
        `The file expands to more than ${maxExpansion} times its size when unpacked (${formatBytes(expanded)} from the first ${formatBytes(compressed)}), so Coffer refused it: archives like that are made to exhaust the server ("gzip bombs"). Upload the backup as its tool made it.`,
      ),
  );
  // The first header, then its member when it is a manifest small enough to read: nothing more.
  // A manifest that refuses the upload stops it as soon as it is in, before the rest is stored.
  let wanted = 512;
  let manifest: Record<string, unknown> | null = null;
  const keeper = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (keptBytes < wanted) {
        kept.push(chunk);
        keptBytes += chunk.length;
        if (wanted === 512 && keptBytes >= 512) {
          const head = Buffer.concat(kept);
          const size = memberSize(head);
          if (memberName(head) === MANIFEST_PATH && size <= MAX_MANIFEST_BYTES) wanted = 512 + size;
        }
        if (wanted > 512 && keptBytes >= wanted)
          try {
            manifest = manifestFrom(Buffer.concat(kept));
          } catch (err) {
            return cb(err as Error);
          }
      }
      cb();
    },
  });
  const input = new PassThrough();
  const done = pipeline(input, guard.compressed, createGunzip({ chunkSize: 64 * 1024 }), guard.expanded, keeper).then(
    () => {
      const head = Buffer.concat(kept);
      if (head.length < 512 || head.subarray(257, 262).toString("latin1") !== "ustar")
        throw new AppError("VALIDATION", "The file is gzip-compressed but not a tar archive. Upload a .tar.gz.");
      return { manifest, madeAt: madeAtFrom(head, manifest) };
    },
    (err: unknown) => {
      if (err instanceof AppError) throw err;
      throw new AppError(
        "VALIDATION",
        `The file is not a valid .tar.gz: ${plainCause(err, { step: "upload" })}. Upload the archive as it was made, without changes.`,
      );
    },
  );
  return { sink: input, done };
}

/**
 * Writes each chunk to every target and takes the next once all of them have room: the slowest sets
 * the pace. Fails with `idle()` when, once ready for the next chunk, none comes for `idleMs` (time
 * spent waiting for the targets does not count).
 */
function tee(targets: Writable[], idleMs: number, idle: () => Error): Writable {
  let timer: NodeJS.Timeout | undefined;
  const sink: Writable = new Writable({
    write(chunk: Buffer, _enc, cb) {
      clearTimeout(timer);
      let waiting = 1;
      const ready = () => {
        if (--waiting > 0) return;
        timer = setTimeout(() => sink.destroy(idle()), idleMs);
        cb();
      };
      for (const target of targets)
        if (!target.write(chunk)) {
          waiting++;
          target.once("drain", ready);
        }
      ready();
    },
    final(cb) {
      clearTimeout(timer);
      for (const target of targets) target.end();
      cb();
    },
    destroy(err, cb) {
      clearTimeout(timer);
      cb(err);
    },
  });
  timer = setTimeout(() => sink.destroy(idle()), idleMs);
  return sink;
}

/** The size limit, and the room reserved on this host's disk when a destination is there: refuses past either. */
function uploadLimit(quota: LocalReservation | null): (bytes: number) => void {
  const max = env().UPLOAD_MAX_SIZE;
  return (bytes) => {
    if (bytes > max) throw tooLarge(max);
    if (quota && bytes > quota.reserved) throw overQuota(quota, bytes);
  };
}

const tooLarge = (max: number) =>
  new AppError(
    "TOO_LARGE",
    `The file is larger than ${formatBytes(max)}, the largest upload this Coffer accepts (UPLOAD_MAX_SIZE). Back the server up with Coffer instead, or ask the operator to raise the limit.`,
  );

const idleTooLong = (seconds: number) => () =>
  new AppError(
    "TIMEOUT",
    `Nothing arrived for ${seconds} second${seconds === 1 ? "" : "s"}, so Coffer stopped the upload (UPLOAD_IDLE_TIMEOUT). Check the connection, then upload it again.`,
  );

/**
 * The upload as an archive: one read of the request feeds the check and the destinations, at the
 * pace of the slowest of them, so nothing of it piles up in memory.
 */
type Archived = { manifest: Record<string, unknown> | null; madeAt: Date | null };

function uploaded(
  body: Readable,
  fileName: string | undefined,
  quota: LocalReservation | null,
  onChecked: (a: Archived) => void,
): ArchiveProducer {
  return {
    async open(ctx) {
      ctx.say(`Receiving ${fileName ?? "the upload"}.`);
      const check = tarGzCheck(env().UPLOAD_MAX_EXPANSION);
      const stream = new PassThrough();
      const stop = (err: unknown) => {
        if (!stream.destroyed) stream.destroy(err as Error);
        body.destroy();
      };
      const idleSeconds = env().UPLOAD_IDLE_TIMEOUT;
      const sink = tee([check.sink, stream], idleSeconds * 1000, idleTooLong(idleSeconds));
      pipeline(body, metered(uploadLimit(quota)), sink).catch((err: unknown) => {
        const reason =
          asAppError(err) ??
          new AppError("VALIDATION", "The upload was interrupted before the whole file arrived. Upload it again.");
        check.sink.destroy(reason); // the check's verdict is this reason
        stop(reason);
      });
      // A bad file stops the upload at once; an error found at its very end comes through `done`.
      check.done.catch(stop);
      ctx.signal.addEventListener("abort", () => body.destroy(), { once: true });
      return {
        stream,
        done: check.done.then((a) => {
          onChecked(a);
          return a.manifest;
        }),
      };
    },
    // Whatever the outcome, stop reading the request (a failed destination leaves it unread).
    close: async () => void body.destroy(),
  };
}

/**
 * Imports an existing `.tar.gz` from the browser as a backup of one of the team's servers: it is
 * checked, sealed if asked and written to the chosen destinations while it streams in, and kept
 * like any other backup. A broken, oversized, stalled or cancelled upload leaves a failed backup
 * and no object. `declaredBytes` (Content-Length) lets an upload that is too large be refused at once.
 * Room on this host's disk is reserved with the backup row (lib/backups/quota), so uploads at the
 * same time share the team's quota instead of each counting all of it; refused, nothing is stored.
 */
export async function importUpload(
  t: TeamContext,
  input: UploadBackupInput,
  body: Readable,
  declaredBytes?: number,
): Promise<{ id: string } & TransferResult> {
  assertRole(t, "member");
  if (declaredBytes) uploadLimit(null)(declaredBytes);
  let quota: LocalReservation | null = null;
  let madeAt: Date | null = null;
  const stored = await storeNewBackup(
    t,
    {
      serverId: input.serverId,
      sourceIds: [],
      destinationIds: input.destinationIds,
      encrypted: input.encrypted,
      trigger: "upload",
      uploadedName: input.fileName,
    },
    () => uploaded(body, input.fileName, quota, (a) => (madeAt = a.madeAt)),
    async (tx, id) => {
      quota = await reserveLocalRoom(tx, t, id, input.destinationIds, declaredBytes || undefined);
      await recordAudit(tx, t, {
        action: "backup.uploaded",
        target: { type: "backup", id, label: input.fileName },
        details: { serverId: input.serverId, encrypted: input.encrypted },
      });
    },
  );
  if (madeAt) {
    const d = await db();
    await d
      .update(backups)
      .set({ archivedAt: madeAt })
      .where(inTeam(backups, t, eq(backups.id, stored.id)));
  }
  return stored;
}

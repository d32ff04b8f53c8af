import "server-only";
import { createHash } from "node:crypto";
import { PassThrough, Transform, Writable, type Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";
import { eq } from "drizzle-orm";
import { backups } from "@/db/schema";
import { db } from "../db";
import { recordAudit } from "../audit/record";
import { env } from "../env";
import { AppError, asAppError } from "../errors";
import { plainCause } from "../error-text";
import { formatBytes, formatCount } from "../format";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import { storeNewBackup, type ArchiveProducer, type TransferResult } from "./build";
import { expansionGuard } from "./expansion";
import {
  MANIFEST_FORMAT,
  MANIFEST_PATH,
  MAX_MANIFEST_BYTES,
  globalsOf,
  parseManifest,
  type Manifest,
  type ManifestEntry,
} from "./manifest";
import { overQuota, reserveLocalRoom, type LocalReservation } from "./quota";
import type { UploadBackupInput } from "./schemas";

/**
 * The manifest of a Coffer archive (its first member, `manifest.json`); null for another tool's
 * manifest.json. One that says it is Coffer's (`format`, `backupId`) but is not valid refuses the
 * upload: its times and entries are what the catalogue, restores and verification would trust (a
 * year-0 `finishedAt` cannot be stored).
 */
function manifestFrom(text: Buffer): Manifest | null {
  try {
    return parseManifest(text);
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
 * Checks, while it streams past, that the upload is a .tar.gz that restores: gzip intact to its
 * end, a tar archive to its end, not expanding beyond `maxExpansion` times its size, and with a
 * Coffer manifest (its first member), its database dumps as the manifest lists them. Resolves with the
 * manifest, if any, and when the archive was made (the manifest's end, else its first member's
 * time); rejects saying what the file is not.
 */
function tarGzCheck(maxExpansion: number): { sink: Writable; done: Promise<Archived> } {
  const guard = expansionGuard(
    maxExpansion,
    (expanded, compressed) =>
      new AppError(
        "TOO_LARGE",
        `The file expands to more than ${maxExpansion} times its size when unpacked (${formatBytes(expanded)} from the first ${formatBytes(compressed)}), so Coffer refused it: archives like that are made to exhaust the server ("gzip bombs"). Upload the backup as its tool made it.`,
      ),
  );
  const input = new PassThrough();
  const tar = extract();
  const feeding = pipeline(input, guard.compressed, createGunzip({ chunkSize: 64 * 1024 }), guard.expanded, tar);
  feeding.catch(() => {}); // its error ends the reading below too
  let entries = 0;
  const reading = (async (): Promise<Archived> => {
    let manifest: Manifest | null = null;
    let madeAt: Date | null = null;
    // The database dumps (and roles), which a restore refuses unless they are as listed. Folders'
    // files are not held to it: one may change between its hashing and its archiving (which
    // verification reports), and a hard link is stored as a link to its first name.
    const dumps = new Map<string, ManifestEntry>();
    const unlike = (what: string) =>
      new AppError(
        "VALIDATION",
        `The archive does not match its Coffer manifest: ${what}. It would not restore; upload the archive as Coffer made it.`,
      );
    for await (const entry of tar) {
      const { name, type, size = 0, mtime } = entry.header;
      if (entries++ === 0) {
        madeAt = mtime && mtime.getTime() > 0 ? mtime : null;
        if (name === MANIFEST_PATH && type === "file" && size <= MAX_MANIFEST_BYTES) {
          manifest = manifestFrom(await buffer(entry as AsyncIterable<Buffer>));
          if (manifest) {
            madeAt = new Date(manifest.finishedAt);
            const paths = new Set([...manifest.postgres.map((p) => p.path), globalsOf(manifest)?.path]);
            for (const e of manifest.entries) if (paths.has(e.path)) dumps.set(e.path, e);
          }
          continue;
        }
      }
      const e = dumps.get(name);
      if (!e || type !== "file") {
        for await (const _ of entry as AsyncIterable<Buffer>);
        continue;
      }
      const hash = createHash("sha256");
      let bytes = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        hash.update(chunk);
        bytes += chunk.length;
      }
      if (bytes !== e.size) throw unlike(`${name} is ${formatBytes(bytes)}; the manifest says ${formatBytes(e.size)}`);
      if (hash.digest("hex") !== e.sha256) throw unlike(`${name}: its SHA-256 differs from the manifest's`);
      dumps.delete(name);
    }
    const [missing] = dumps.keys();
    if (missing !== undefined)
      throw unlike(`${missing}${dumps.size > 1 ? ` and ${formatCount(dumps.size - 1, "more dump")}` : ""} missing`);
    return { manifest, madeAt };
  })();
  reading.catch((err: unknown) => tar.destroy(err as Error)); // stops the upload
  const done = Promise.all([reading, feeding]).then(
    ([archived]) => {
      if (!entries) throw notTar();
      return archived;
    },
    (err: unknown) => {
      if (err instanceof AppError) throw err;
      const code = (err as { code?: unknown }).code;
      if (!entries && !(typeof code === "string" && code.startsWith("Z_"))) throw notTar();
      throw new AppError(
        "VALIDATION",
        `The file is not a valid .tar.gz: ${plainCause(err, { step: "upload" })}. Upload the archive as it was made, without changes.`,
      );
    },
  );
  return { sink: input, done };
}

const notTar = () => new AppError("VALIDATION", "The file is gzip-compressed but not a tar archive. Upload a .tar.gz.");

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

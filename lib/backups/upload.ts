import "server-only";
import { PassThrough, Writable, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { recordAudit } from "../audit/record";
import { AppError } from "../errors";
import { assertRole, type TeamContext } from "../teams/context";
import { storeNewBackup, type ArchiveProducer, type TransferResult } from "./build";
import { MANIFEST_PATH, parseManifest } from "./manifest";
import type { UploadBackupInput } from "./schemas";

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** The manifest of a Coffer archive (its first member, `manifest.json`), from the archive's first bytes; null for other archives. */
function manifestFrom(head: Buffer): Record<string, unknown> | null {
  const name = head.subarray(0, 100).toString("latin1").replace(/\0.*$/s, "");
  const size = parseInt(head.subarray(124, 136).toString("latin1").replace(/\0.*$/s, "").trim() || "0", 8);
  if (name !== MANIFEST_PATH || !Number.isSafeInteger(size) || head.length < 512 + size) return null;
  try {
    return parseManifest(head.subarray(512, 512 + size)) as unknown as Record<string, unknown>;
  } catch {
    return null; // not a Coffer manifest: kept as an archive without one
  }
}

/**
 * Checks, while it streams past, that the upload is a .tar.gz (gzip intact to its end, a `ustar`
 * first header). Resolves with its Coffer manifest, if it has one, else null; rejects saying what
 * the file is not.
 */
function tarGzCheck(): { sink: Writable; done: Promise<Record<string, unknown> | null> } {
  const gunzip = createGunzip();
  const kept: Buffer[] = [];
  let keptBytes = 0;
  const counter = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (keptBytes < 512 + MAX_MANIFEST_BYTES) {
        kept.push(chunk);
        keptBytes += chunk.length;
      }
      cb();
    },
  });
  const input = new PassThrough();
  const done = pipeline(input, gunzip, counter).then(
    () => {
      const head = Buffer.concat(kept);
      if (head.length < 512 || head.subarray(257, 262).toString("latin1") !== "ustar")
        throw new AppError("VALIDATION", "The file is gzip-compressed but not a tar archive. Upload a .tar.gz.");
      return manifestFrom(head);
    },
    (err: unknown) => {
      if (err instanceof AppError) throw err;
      throw new AppError(
        "VALIDATION",
        `The file is not a valid .tar.gz (${(err as Error).message}). Upload the archive as it was made, without changes.`,
      );
    },
  );
  return { sink: input, done };
}

/** The upload as an archive: one read of the request feeds both the check and the destinations. */
function uploaded(body: Readable, fileName: string | undefined): ArchiveProducer {
  return {
    async open(ctx) {
      ctx.say(`Receiving ${fileName ?? "the upload"}.`);
      const check = tarGzCheck();
      const stream = new PassThrough();
      body.on("data", (chunk: Buffer) => {
        check.sink.write(chunk);
        if (!stream.write(chunk)) body.pause();
      });
      stream.on("drain", () => body.resume());
      body.once("end", () => {
        check.sink.end();
        stream.end();
      });
      body.once("error", (err) => {
        check.sink.destroy(err);
        stream.destroy(
          new AppError("VALIDATION", "The upload was interrupted before the whole file arrived. Upload it again."),
        );
      });
      // A bad file stops the upload at once; an error found at its very end comes through `done`.
      check.done.catch((err: unknown) => stream.writableEnded || stream.destroy(err as Error));
      ctx.signal.addEventListener("abort", () => body.destroy(), { once: true });
      return { stream, done: check.done };
    },
    close: async () => {},
  };
}

/**
 * Imports an existing `.tar.gz` from the browser as a backup of one of the team's servers: it is
 * checked, sealed if asked and written to the chosen destinations while it streams in, and kept
 * like any other backup. A broken or cancelled upload leaves a failed backup and no object.
 */
export async function importUpload(
  t: TeamContext,
  input: UploadBackupInput,
  body: Readable,
): Promise<{ id: string } & TransferResult> {
  assertRole(t, "member");
  return storeNewBackup(
    t,
    {
      serverId: input.serverId,
      sourceIds: [],
      destinationIds: input.destinationIds,
      encrypted: input.encrypted,
      trigger: "upload",
    },
    () => uploaded(body, input.fileName),
    (tx, id) =>
      recordAudit(tx, t, {
        action: "backup.uploaded",
        target: { type: "backup", id, label: input.fileName },
        details: { serverId: input.serverId, encrypted: input.encrypted },
      }),
  );
}

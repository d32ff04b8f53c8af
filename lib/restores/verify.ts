import "server-only";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { VerificationResult } from "@/db/schema";
import {
  MANIFEST_PATH,
  MAX_MANIFEST_BYTES,
  parseManifest,
  type Manifest,
  type PostgresDump,
} from "../backups/manifest";
import { formatBytes, formatCount } from "../format";
import { asAppError } from "../errors";
import { withServer } from "../servers/connect";
import { Sha256Meter } from "../storage/common";
import { archiveDamage, drain, readEntries } from "./archive-entries";
import { connectionOf, type RestoreCtx } from "./job";
import { manifestOf } from "./mutations";
import { ServerPostgres } from "./postgres";
import { testPause } from "../jobs/test-pause";
import { scratchName, setScratch } from "./scratch";

/**
 * Files kept (size and SHA-256) beyond those the manifest lists; past this many they are only
 * counted, so an archive of countless tiny files (an upload) cannot fill the memory.
 */
const MAX_FILES_KEPT = 100_000;

/**
 * A `manifest.json` found inside an archive that has no recorded manifest (an upload), of `size`
 * bytes (its tar header's): passed over unread when larger than MAX_MANIFEST_BYTES. Null, with the
 * difference recorded, when it is too large or not a Coffer manifest.
 */
async function lateManifest(body: Readable, size: number, differences: string[]): Promise<Manifest | null> {
  if (size > MAX_MANIFEST_BYTES) {
    await pipeline(body, drain());
    differences.push(
      `${MANIFEST_PATH} is ${formatBytes(size)}, more than the ${formatBytes(MAX_MANIFEST_BYTES)} Coffer reads from an archive, so it was not read: only the archive's integrity was checked.`,
    );
    return null;
  }
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
  try {
    return parseManifest(Buffer.concat(chunks));
  } catch (err) {
    const app = asAppError(err);
    if (!app) throw err;
    differences.push(app.message);
    return null;
  }
}

/**
 * Reads the whole archive once: every file's size and SHA-256 is compared with the manifest, and
 * every dump is loaded into its own scratch database (dropped again at once) whose row counts are
 * compared with the manifest's. Returns every difference found.
 */
export async function verify(ctx: RestoreCtx): Promise<VerificationResult> {
  const { t, job, server, signal, say } = ctx;
  let manifest: Manifest | null = manifestOf(ctx.backup);
  const differences: string[] = [];
  const seen = new Map<string, { size: number; sha256: string }>();
  let uncounted = 0; // files not kept (MAX_FILES_KEPT)
  const databases: VerificationResult["databases"] = [];
  let dumpIndex = 0;
  return withServer(
    t,
    job.serverId,
    async (reach) => {
      /** Loads the dump (read through `hash`) into a scratch database and counts it. */
      const loadAndCount = async (dump: PostgresDump, body: Readable, hash: Sha256Meter) => {
        const conn = await connectionOf(
          t,
          server.kind,
          job.connectionSourceId ?? dump.source,
          job.connectionSourceId ? "chosen for verification" : `of ${dump.database}`,
        );
        const pg = new ServerPostgres(reach, conn, `coffer:${job.id}`, signal);
        const scratch = scratchName("verify", job.id, dumpIndex++);
        await setScratch(t, job.id, { name: scratch, sourceId: conn.id });
        try {
          await pg.recreate(scratch);
          say(`Loading ${dump.path} into ${scratch} on ${server.name}…`);
          pipeline(body, hash).catch(() => {}); // a damaged archive fails `hash`, which stops psql
          try {
            await pg.load(scratch, hash);
          } catch (err) {
            // Only a statement of the dump failing says the dump does not load; anything else is retried.
            if (archiveDamage(err) || signal.aborted || asAppError(err)?.code !== "VALIDATION") throw err;
            differences.push(`${dump.database}: the dump does not load: ${asAppError(err)!.message}`);
            return;
          }
          const counts = await pg.countRows(scratch);
          await testPause("verify-loaded");
          const restored = new Map(counts.map((c) => [`${c.schema}.${c.table}`, c.rows]));
          for (const c of dump.tables) {
            const key = `${c.schema}.${c.table}`;
            const rows = restored.get(key);
            if (rows === undefined)
              differences.push(
                `${dump.database}: table ${key} is missing after the restore (the manifest counts ${c.rows} rows).`,
              );
            else if (rows !== c.rows)
              differences.push(
                `${dump.database}: table ${key} has ${rows} rows after the restore; the manifest counts ${c.rows}.`,
              );
            restored.delete(key);
          }
          for (const key of restored.keys()) differences.push(`${dump.database}: table ${key} is not in the manifest.`);
          databases.push({
            member: dump.path,
            database: dump.database,
            tables: counts.length,
            rows: counts.reduce((n, c) => n + c.rows, 0),
          });
          say(`${dump.database}: ${formatCount(counts.length, "table")} restored and counted.`);
        } finally {
          await pg.drop(scratch);
          await setScratch(t, job.id, null);
        }
      };

      /** Keeps `name`'s size and SHA-256 for the comparison with the manifest, or counts it past MAX_FILES_KEPT. */
      const keep = (name: string, got: { size: number; sha256: string }) => {
        if (seen.size < (manifest?.entries.length ?? 0) + MAX_FILES_KEPT) seen.set(name, got);
        else uncounted++;
      };

      try {
        await readEntries(ctx, async (name, type, body, size, linkname) => {
          // tar stores a file's second name as a hard link to its first: it has that file's content.
          // A link to anything not checked before it is not kept, so its manifest record is reported missing.
          if (type === "link") {
            const target = linkname && seen.get(linkname);
            if (target) keep(name, target);
            return;
          }
          if (type !== "file") return;
          const hash = new Sha256Meter();
          if (name === MANIFEST_PATH && !manifest) {
            manifest = await lateManifest(body, size, differences);
            return;
          }
          if (name === MANIFEST_PATH) return;
          const dump = manifest?.postgres.find((p) => p.path === name);
          if (dump) {
            await loadAndCount(dump, body, hash);
            if (!hash.readableEnded) await pipeline(hash, drain()); // the dump did not load: read past it
          } else {
            await pipeline(body, hash, drain());
          }
          keep(name, { size: hash.bytesSeen, sha256: hash.digest() });
        });
      } catch (err) {
        const damage = archiveDamage(err);
        if (!damage) throw err;
        const copy = ctx.copies.reading;
        differences.push(copy ? `${damage} It was read from the copy in ${copy.name}.` : damage);
      }
      if (manifest) {
        for (const e of manifest.entries) {
          const got = seen.get(e.path);
          if (!got) differences.push(`${e.path} is missing from the archive.`);
          else if (got.size !== e.size)
            differences.push(`${e.path} is ${got.size} bytes; the manifest says ${e.size}.`);
          else if (got.sha256 !== e.sha256) differences.push(`${e.path}: its SHA-256 differs from the manifest's.`);
          seen.delete(e.path);
        }
        for (const path of seen.keys()) differences.push(`${path} is in the archive but not in the manifest.`);
        if (uncounted)
          differences.push(
            `${formatCount(uncounted, "more file")} in the archive ${uncounted === 1 ? "was" : "were"} not compared with the manifest: it holds too many beyond those the manifest lists.`,
          );
      } else {
        say("This archive has no Coffer manifest: only its integrity (decryption, gzip, tar) was checked.");
      }
      const files = manifest ? manifest.entries.length : seen.size + uncounted;
      return { tables: databases.reduce((n, x) => n + x.tables, 0), files, databases, differences };
    },
    { signal },
  );
}

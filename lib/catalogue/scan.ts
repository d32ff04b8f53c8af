import "server-only";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { backups } from "@/db/schema";
import { keyring, type Keyring } from "../crypto/master-keys";
import { db } from "../db";
import { withDestination } from "../destinations/use";
import { AppError, asAppError, type FieldErrors } from "../errors";
import { assertRole, type TeamContext } from "../teams/context";
import { checkFormerTeamId } from "./former-ids";
import { ENCRYPTED_SUFFIX, inspectObject, type Inspected } from "./inspect";

// Scan for backups: every object of a destination, listed page by page as the provider hands them
// out, is either skipped by name (not a Coffer backup) or inspected on its own; nothing is kept
// in memory beyond the object at hand, so a bucket of millions of unrelated objects scans in
// constant memory. The caller stops it with `signal`.

/** One object as the scan reports it (no key material: ids, sizes, what the manifest says). */
export interface ScannedObject {
  key: string;
  size: number;
  lastModified: string | null;
  verdict: Inspected["verdict"];
  reason: string;
  teamId?: string;
  backupId?: string;
  keyId?: string;
  /** The server id the object's key starts with (`<server id>/…`), as the old catalogue named it. */
  serverId?: string;
  server?: string;
  startedAt?: string;
  archiveBytes?: number;
  sources?: string[];
}

export type ScanEvent =
  | { type: "object"; object: ScannedObject }
  | { type: "progress"; listed: number; backups: number }
  | { type: "done"; listed: number; backups: number };

/** What the scan route sends: the events, then an error line when the scan failed. */
export type ScanLine = ScanEvent | { type: "error"; code: string; message: string; fieldErrors?: FieldErrors };

export const scanInputSchema = z.object({
  formerTeamId: z
    .string()
    .trim()
    .max(300)
    .optional()
    .transform((v) => v || undefined),
});

const PROGRESS_EVERY = 1000;

/** The team ids whose objects count as this team's: its own, and the former id it gives (if free to claim). */
export async function teamIdsFor(t: TeamContext, formerTeamId?: string): Promise<Set<string>> {
  const ids = new Set([t.id]);
  if (formerTeamId && formerTeamId !== t.id) ids.add(await checkFormerTeamId(t, formerTeamId));
  return ids;
}

/**
 * Lists every object of the destination and reports each one named like an encrypted backup,
 * plus progress every 1000 objects listed. Admins only. A listing the credentials may not do fails
 * with an UPSTREAM error that says so.
 */
export async function scanDestination(
  t: TeamContext,
  destinationId: string,
  opts: { formerTeamId?: string; signal?: AbortSignal; keys?: Keyring },
  each: (event: ScanEvent) => Promise<void> | void,
): Promise<void> {
  assertRole(t, "admin");
  const ids = await teamIdsFor(t, opts.formerTeamId);
  const keys = opts.keys ?? keyring();
  const { signal } = opts;
  await withDestination(t, destinationId, async (adapter) => {
    let listed = 0;
    let found = 0;
    const objects = adapter.list("")[Symbol.asyncIterator]();
    while (true) {
      signal?.throwIfAborted();
      let next;
      try {
        next = await objects.next();
      } catch (err) {
        throw listingFailed(err);
      }
      if (next.done) break;
      const info = next.value;
      if (++listed % PROGRESS_EVERY === 0) await each({ type: "progress", listed, backups: found });
      if (!info.key.endsWith(ENCRYPTED_SUFFIX)) continue;
      found++;
      let inspected: Inspected;
      try {
        inspected = await inspectObject(adapter, info, (teamId) => ids.has(teamId), keys, signal);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const known = asAppError(err);
        if (!known) throw err;
        inspected = {
          key: info.key,
          size: info.size,
          lastModified: info.lastModified ?? null,
          storageClass: info.storageClass ?? null,
          verdict: "unreadable",
          reason: known.message,
        };
      }
      await each({ type: "object", object: await withCatalogue(t, inspected) });
    }
    await each({ type: "done", listed, backups: found });
  });
}

function listingFailed(err: unknown): Error {
  const known = asAppError(err);
  if (!known) return err as Error;
  return new AppError(
    known.code,
    `Coffer could not list this destination, so nothing was scanned (Scan for backups needs permission to list its objects): ${known.message}`,
  );
}

/** The report of one object; an importable one already in the catalogue says so instead. */
async function withCatalogue(t: TeamContext, o: Inspected): Promise<ScannedObject> {
  const h = o.header;
  let verdict = o.verdict;
  let reason = o.reason;
  if (verdict === "importable" && h) {
    const row = await backupOwnerAllTeams(h.backupId);
    if (row) {
      verdict = row.teamId === t.id ? "in-catalogue" : "other-team";
      reason =
        row.teamId === t.id
          ? "Already in this team's catalogue."
          : "A backup with this id belongs to another team: left alone.";
    }
  }
  const slash = o.key.indexOf("/");
  return {
    key: o.key,
    size: o.size,
    lastModified: o.lastModified?.toISOString() ?? null,
    verdict,
    reason,
    ...(h && { teamId: h.teamId, backupId: h.backupId, keyId: h.keyId }),
    ...(slash > 0 && { serverId: o.key.slice(0, slash) }),
    ...(o.manifest && {
      server: o.manifest.server,
      startedAt: o.manifest.startedAt,
      sources: o.manifest.sources.map((s) => s.name),
    }),
    ...(o.archiveBytes !== undefined && { archiveBytes: o.archiveBytes }),
  };
}

/** Which team holds a backup id, if any: ids are unique across teams, so a scan must look at all of them. */
export async function backupOwnerAllTeams(backupId: string): Promise<{ teamId: string } | undefined> {
  const [row] = await (await db()).select({ teamId: backups.teamId }).from(backups).where(eq(backups.id, backupId));
  return row;
}

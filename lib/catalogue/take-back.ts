import "server-only";
import path from "node:path";
import { z } from "zod";
import { eq } from "drizzle-orm";
import { backupDestinations, backupLocations, backups, servers } from "@/db/schema";
import { idPattern } from "@/db/columns";
import { recordAudit } from "../audit/record";
import { unwrapDek, wrapDek } from "../crypto/data-key";
import { keyring, type Keyring } from "../crypto/master-keys";
import { db } from "../db";
import { withDestination } from "../destinations/use";
import { AppError, asAppError } from "../errors";
import { idOf } from "../ids";
import { backupFileName } from "../backups/mutations";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import { claimFormerTeamId } from "./former-ids";
import { inspectObject, type Inspected } from "./inspect";
import { teamIdsFor } from "./scan";

// Takes chosen objects back in as backups: each object is inspected again (nothing the browser
// sends about it is trusted), its data key re-wrapped for this team, and a succeeded backup with
// one stored location recorded, so it downloads, restores and verifies like any other.

export const takeBackSchema = z.object({
  destinationId: idOf("dst", "destination"),
  formerTeamId: z.string().trim().max(300).optional(),
  objects: z
    .array(z.object({ key: z.string().min(1).max(1024), serverId: idOf("srv", "server") }))
    .min(1, "Choose at least one backup.")
    .max(500, "Take back at most 500 backups at a time."),
});
export type TakeBackInput = z.infer<typeof takeBackSchema>;

export interface TakeBackResult {
  taken: { key: string; backupId: string }[];
  skipped: { key: string; reason: string }[];
}

export async function takeBackBackups(
  t: TeamContext,
  input: TakeBackInput,
  keys: Keyring = keyring(),
): Promise<TakeBackResult> {
  assertRole(t, "admin");
  const ids = await teamIdsFor(t, input.formerTeamId || undefined);
  const result: TakeBackResult = { taken: [], skipped: [] };
  await withDestination(t, input.destinationId, async (adapter) => {
    for (const { key, serverId } of input.objects) {
      const skip = (reason: string) => result.skipped.push({ key, reason });
      let info;
      try {
        info = await adapter.head(key);
      } catch (err) {
        skip(asAppError(err)?.message ?? "The destination did not answer for this object.");
        continue;
      }
      if (!info) {
        skip("The object is no longer there.");
        continue;
      }
      const o = await inspectObject(adapter, info, (teamId) => ids.has(teamId), keys).catch(
        (err: unknown): Inspected => ({
          ...info,
          lastModified: null,
          storageClass: null,
          verdict: "unreadable",
          reason: asAppError(err)?.message ?? "The object could not be read.",
        }),
      );
      if (o.verdict !== "importable") {
        skip(o.reason);
        continue;
      }
      try {
        result.taken.push({ key, backupId: await record(t, input.destinationId, serverId, o, keys) });
      } catch (err) {
        const known = asAppError(err);
        if (!known) throw err;
        skip(known.message);
      }
    }
  });
  return result;
}

async function record(
  t: TeamContext,
  destinationId: string,
  serverId: string,
  o: Inspected,
  keys: Keyring,
): Promise<string> {
  const h = o.header!;
  const m = o.manifest!;
  if (!idPattern("bkp").test(h.backupId))
    throw new AppError("VALIDATION", `"${h.backupId}" is not a Coffer backup id: the object is not a Coffer backup.`);
  // Bound to this team from now on (FORMAT.md: the data key's associated data names team and backup).
  const dek = unwrapDek(h.wrapped, keys, h.teamId, h.backupId);
  const wrapped = (() => {
    try {
      return wrapDek(dek, keys, t.id, h.backupId);
    } finally {
      dek.fill(0);
    }
  })();
  const started = new Date(m.startedAt);
  const base = path.posix.basename(o.key);
  const suffix = `-${h.backupId}.tar.gz.enc`;
  const fileName = base.endsWith(suffix)
    ? `${base.slice(0, -suffix.length)}.tar.gz`
    : backupFileName(m.server, started);
  const d = await db();
  return d.transaction(async (tx) => {
    const [server] = await tx
      .select({ id: servers.id, name: servers.name })
      .from(servers)
      .where(inTeam(servers, t, eq(servers.id, serverId)));
    if (!server) throw new AppError("NOT_FOUND", "Choose one of this team's servers for these backups.");
    if (h.teamId !== t.id) await claimFormerTeamId(tx, t, h.teamId);
    const [row] = await tx
      .insert(backups)
      .values({
        id: h.backupId,
        teamId: t.id,
        serverId: server.id,
        trigger: "import",
        status: "succeeded",
        encrypted: true,
        compression: m.compression?.setting ?? "fast",
        requestedBy: t.actor.label,
        fileName,
        dekWrapped: wrapped.wrapped.toString("base64"),
        dekKeyId: wrapped.keyId,
        headerKeyId: h.keyId,
        headerTeamId: h.teamId === t.id ? null : h.teamId,
        startedAt: started,
        finishedAt: new Date(m.finishedAt),
        bytesDone: o.size,
        sizeBytes: o.size,
        archiveBytes: o.archiveBytes,
        manifest: m as unknown as Record<string, unknown>,
        createdAt: started,
      })
      .onConflictDoNothing()
      .returning({ id: backups.id });
    if (!row) throw new AppError("CONFLICT", "A backup with this id is already in a catalogue of this Coffer.");
    await tx.insert(backupDestinations).values({ teamId: t.id, backupId: row.id, destinationId });
    await tx.insert(backupLocations).values({
      teamId: t.id,
      backupId: row.id,
      destinationId,
      objectKey: o.key,
      status: "stored",
      sizeBytes: o.size,
      storageClass: o.storageClass,
    });
    await recordAudit(tx, t, {
      action: "backup.taken-back",
      target: { type: "backup", id: row.id, label: fileName },
      details: { destinationId, objectKey: o.key, serverId: server.id, madeByTeam: h.teamId },
    });
    return row.id;
  });
}

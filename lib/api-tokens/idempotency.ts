import "server-only";
import { createHash } from "node:crypto";
import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import { apiIdempotencyKeys } from "@/db/schema";
import { db } from "../db";
import { AppError } from "../errors";
import { inTeam, type TeamContext } from "../teams/context";

/** How long a key answers with what it made. */
const KEY_TTL_MS = 24 * 3_600_000;
/**
 * A claim that never recorded what it made (its process died while making it) holds its key this
 * long, then is taken again: otherwise a retry of that request got 409 for a day. Counted on the
 * database's clock, which set `createdAt`.
 */
const ABANDONED = sql`interval '5 minutes'`;

/**
 * Runs `create` once per team and `Idempotency-Key` within 24 h: a repeat with the same body gets
 * the first result (`replayed`), a repeat with another body or while the first is still being
 * made is CONFLICT. The key is claimed before `create` runs, so two racing requests make one thing.
 */
export async function onceForKey(
  t: TeamContext,
  key: string,
  body: unknown,
  create: () => Promise<{ id: string }>,
): Promise<{ id: string; replayed: boolean }> {
  const d = await db();
  const requestHash = createHash("sha256").update(JSON.stringify(body)).digest("hex");
  const stale = new Date(Date.now() - KEY_TTL_MS);
  const [claimed] = await d
    .insert(apiIdempotencyKeys)
    .values({ teamId: t.id, key, requestHash })
    .onConflictDoUpdate({
      target: [apiIdempotencyKeys.teamId, apiIdempotencyKeys.key],
      set: { requestHash, backupId: null, createdAt: sql`now()` },
      setWhere: or(
        lt(apiIdempotencyKeys.createdAt, stale),
        and(isNull(apiIdempotencyKeys.backupId), lt(apiIdempotencyKeys.createdAt, sql`now() - ${ABANDONED}`)),
      ),
    })
    .returning({ key: apiIdempotencyKeys.key });
  if (!claimed) {
    const [earlier] = await d
      .select({ requestHash: apiIdempotencyKeys.requestHash, backupId: apiIdempotencyKeys.backupId })
      .from(apiIdempotencyKeys)
      .where(inTeam(apiIdempotencyKeys, t, eq(apiIdempotencyKeys.key, key)));
    if (earlier && earlier.requestHash !== requestHash)
      throw new AppError(
        "CONFLICT",
        "This Idempotency-Key was used in the last 24 hours with a different body; use a new key for a new request.",
      );
    if (!earlier?.backupId)
      throw new AppError("CONFLICT", "A request with this Idempotency-Key is still being made; retry in a moment.");
    return { id: earlier.backupId, replayed: true };
  }
  let made: { id: string };
  try {
    made = await create();
  } catch (err) {
    // Nothing was made: the key is free for the corrected request.
    await d.delete(apiIdempotencyKeys).where(inTeam(apiIdempotencyKeys, t, eq(apiIdempotencyKeys.key, key)));
    throw err;
  }
  // Past `create` the key stays claimed: freed, a retry would make it twice (one whose process dies
  // right here is freed after 5 minutes all the same: then a retry makes a second backup).
  await d
    .update(apiIdempotencyKeys)
    .set({ backupId: made.id })
    .where(inTeam(apiIdempotencyKeys, t, eq(apiIdempotencyKeys.key, key)));
  return { id: made.id, replayed: false };
}

/**
 * Deletes the keys past their 24 hours (the daily prune-idempotency-keys run): they answer nothing
 * any more, and a key is claimed afresh either way.
 */
export async function pruneIdempotencyKeysAllTeams(): Promise<{ keys: number }> {
  const d = await db();
  const gone = await d
    .delete(apiIdempotencyKeys)
    .where(lt(apiIdempotencyKeys.createdAt, new Date(Date.now() - KEY_TTL_MS)))
    .returning({ key: apiIdempotencyKeys.key });
  return { keys: gone.length };
}

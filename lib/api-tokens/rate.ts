import "server-only";
import { and, eq, gte, sql } from "drizzle-orm";
import { apiTokens } from "@/db/schema";
import { db } from "../db";

/**
 * A token bucket per API token, kept on the token's row so that every Coffer process sharing the
 * database takes from the same one: `perMinute` requests a minute, in bursts of up to as many.
 * Takes one request: 0 when it may go ahead, else the seconds until one may.
 */
export async function takeApiRequestAllTeams(tokenId: string, perMinute: number): Promise<number> {
  const d = await db();
  // What the bucket holds now: what it held, plus what has dripped in since (the database's clock).
  const held = sql`least(${perMinute}::float8, coalesce(${apiTokens.rateTokens}, ${perMinute}::float8)
    + greatest(0, extract(epoch from now() - coalesce(${apiTokens.rateCheckedAt}, now()))) * ${perMinute / 60}::float8)`;
  // One statement: concurrent requests with the token wait for each other's update of the row.
  const [taken] = await d
    .update(apiTokens)
    // A request that waited for the row started before the one it waited for: its clock is not put back.
    .set({ rateTokens: sql`${held} - 1`, rateCheckedAt: sql`greatest(${apiTokens.rateCheckedAt}, now())` })
    .where(and(eq(apiTokens.id, tokenId), gte(held, 1)))
    .returning({ id: apiTokens.id });
  if (taken) return 0;
  // Refused: a refusal takes nothing, so the wait is until one request has dripped in.
  const [row] = await d
    .select({ held: sql<number>`${held}` })
    .from(apiTokens)
    .where(eq(apiTokens.id, tokenId));
  return Math.max(1, Math.ceil(((1 - Number(row?.held ?? 0)) * 60) / perMinute));
}

import "server-only";
import { createHash, randomBytes } from "node:crypto";
import { and, desc, eq, isNull } from "drizzle-orm";
import { apiTokens, memberships } from "@/db/schema";
import { newId } from "@/db/columns";
import { recordAudit } from "../audit/record";
import { db, pgCode } from "../db";
import { AppError, forbidden, notFound } from "../errors";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import type { CreateApiTokenInput } from "./schemas";
import { actingRole, tokenRole } from "./scopes";

/** Every token starts with this, so secret scanners and people recognise one. */
export const TOKEN_PREFIX = "coffer_";
/** What lists show of a token: the prefix and the first characters of its random part. */
const SHOWN = TOKEN_PREFIX.length + 6;

export const hashToken = (token: string) => createHash("sha256").update(token, "utf8").digest("hex");

/**
 * Creates a token: `coffer_` and 256 random bits (base64url), returned this once; only its
 * SHA-256 is stored. It acts for the team with at most the creator's present role.
 */
export async function createApiToken(
  t: TeamContext,
  input: CreateApiTokenInput,
): Promise<{ id: string; token: string; prefix: string; expiresAt: Date | null }> {
  assertRole(t, "admin");
  if (t.role === "system") throw forbidden("admin"); // a token is made by a person, whose role it is capped at
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  const id = newId("tok");
  const expiresAt = input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null;
  const d = await db();
  await d
    .transaction(async (tx) => {
      await tx.insert(apiTokens).values({
        id,
        teamId: t.id,
        name: input.name,
        prefix: token.slice(0, SHOWN),
        tokenHash: hashToken(token),
        scopes: input.scopes,
        role: tokenRole(t.role as Exclude<TeamContext["role"], "system">, input.scopes),
        createdByUserId: t.actor.userId,
        createdBy: t.actor.label,
        expiresAt,
      });
      await recordAudit(tx, t, {
        action: "api_token.created",
        target: { type: "api_token", id, label: input.name },
        details: { scopes: input.scopes, expiresAt: expiresAt?.toISOString() ?? "never" },
      });
    })
    .catch((err: unknown) => {
      if (pgCode(err) === "23505")
        throw new AppError("CONFLICT", "A token with that name exists; choose another name or revoke that one.", {
          name: ["Already in use."],
        });
      throw err;
    });
  return { id, token, prefix: token.slice(0, SHOWN), expiresAt };
}

/**
 * The team's tokens, newest first, never their hashes; `role` is the role each acts with now (null:
 * stopped, its creator left the team).
 */
export async function listApiTokens(t: TeamContext) {
  assertRole(t, "admin");
  const d = await db();
  const rows = await d
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      prefix: apiTokens.prefix,
      scopes: apiTokens.scopes,
      role: apiTokens.role,
      createdByUserId: apiTokens.createdByUserId,
      creatorRole: memberships.role,
      createdBy: apiTokens.createdBy,
      createdAt: apiTokens.createdAt,
      expiresAt: apiTokens.expiresAt,
      lastUsedAt: apiTokens.lastUsedAt,
      lastUsedIp: apiTokens.lastUsedIp,
      revokedAt: apiTokens.revokedAt,
      revokedBy: apiTokens.revokedBy,
    })
    .from(apiTokens)
    .leftJoin(
      memberships,
      and(eq(memberships.teamId, apiTokens.teamId), eq(memberships.userId, apiTokens.createdByUserId)),
    )
    .where(inTeam(apiTokens, t))
    .orderBy(desc(apiTokens.createdAt));
  return rows.map(({ createdByUserId, creatorRole, ...k }) => ({
    ...k,
    role: actingRole({ role: k.role, createdByUserId }, creatorRole),
  }));
}

/** Revokes a token: from the next request on it answers 401. */
export async function revokeApiToken(t: TeamContext, tokenId: string): Promise<void> {
  assertRole(t, "admin");
  const d = await db();
  await d.transaction(async (tx) => {
    const [row] = await tx
      .update(apiTokens)
      .set({ revokedAt: new Date(), revokedBy: t.actor.label })
      .where(inTeam(apiTokens, t, eq(apiTokens.id, tokenId), isNull(apiTokens.revokedAt)))
      .returning({ name: apiTokens.name });
    if (!row) {
      const [exists] = await tx
        .select({ id: apiTokens.id })
        .from(apiTokens)
        .where(and(inTeam(apiTokens, t, eq(apiTokens.id, tokenId))));
      if (!exists) throw notFound("That API token");
      return; // revoked already
    }
    await recordAudit(tx, t, {
      action: "api_token.revoked",
      target: { type: "api_token", id: tokenId, label: row.name },
    });
  });
}

import "server-only";
import { and, eq, isNull, lt, ne, or, sql } from "drizzle-orm";
import { apiTokens, memberships, teams } from "@/db/schema";
import type { DelegatedActor } from "../audit/record";
import { db } from "../db";
import { AppError, notFound } from "../errors";
import type { TeamContext } from "../teams/context";
import { actingRole, scopeInfo, type Scope } from "./scopes";
import { hashToken, TOKEN_PREFIX } from "./tokens";

/** A request made with a team API token: the team it acts for (with the token's role) and its scopes. */
export interface ApiCaller {
  team: TeamContext;
  token: { id: string; name: string; scopes: Scope[] };
}

const unauthenticated = (message: string) => new AppError("UNAUTHENTICATED", message);
/** Last use is written at most this often per token and address, not on every request. */
const LAST_USE_EVERY_MS = 60_000;

/**
 * Resolves `Authorization: Bearer coffer_…` to its team and scopes. A missing, malformed, unknown,
 * revoked or expired token, or one whose creator left the team, is UNAUTHENTICATED (401) with a
 * message saying which; it acts with at most its creator's present role. Nothing about the
 * token itself is logged or returned. Across teams by name: the token says which team it is for.
 */
export async function callerForTokenAllTeams(authorization: string | null, ip: string | null): Promise<ApiCaller> {
  if (!authorization)
    throw unauthenticated(`Send an API token: Authorization: Bearer ${TOKEN_PREFIX}… (Settings → API tokens).`);
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!m) throw unauthenticated(`Use the form Authorization: Bearer ${TOKEN_PREFIX}…`);
  const token = m[1]!;
  if (!token.startsWith(TOKEN_PREFIX))
    throw unauthenticated(`That is not a Coffer API token (they start with ${TOKEN_PREFIX}).`);
  const d = await db();
  const [row] = await d
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      scopes: apiTokens.scopes,
      role: apiTokens.role,
      expiresAt: apiTokens.expiresAt,
      revokedAt: apiTokens.revokedAt,
      createdByUserId: apiTokens.createdByUserId,
      createdBy: apiTokens.createdBy,
      creatorRole: memberships.role,
      teamId: teams.id,
      slug: teams.slug,
      teamName: teams.name,
    })
    .from(apiTokens)
    .innerJoin(teams, eq(teams.id, apiTokens.teamId))
    .leftJoin(
      memberships,
      and(eq(memberships.teamId, apiTokens.teamId), eq(memberships.userId, apiTokens.createdByUserId)),
    )
    .where(eq(apiTokens.tokenHash, hashToken(token)));
  if (!row) throw unauthenticated("This API token is not valid. Check it was copied whole, or create a new one.");
  if (row.revokedAt) throw unauthenticated("This API token was revoked. Create a new one in Settings → API tokens.");
  if (row.expiresAt && row.expiresAt <= new Date())
    throw unauthenticated(`This API token expired on ${row.expiresAt.toISOString().slice(0, 10)}. Create a new one.`);
  const role = actingRole(row, row.creatorRole);
  if (!role)
    throw unauthenticated(
      "This API token stopped working when the member who created it left the team. An admin can create a new one in Settings → API tokens.",
    );
  await d
    .update(apiTokens)
    .set({ lastUsedAt: new Date(), lastUsedIp: ip })
    .where(
      and(
        eq(apiTokens.id, row.id),
        or(
          isNull(apiTokens.lastUsedAt),
          lt(apiTokens.lastUsedAt, new Date(Date.now() - LAST_USE_EVERY_MS)),
          ip === null ? sql`false` : or(isNull(apiTokens.lastUsedIp), ne(apiTokens.lastUsedIp, ip)),
        ),
      ),
    );
  // Names are reused once a token is revoked: the id tells this token from a leaked one of the same name.
  const actor: DelegatedActor = {
    userId: null,
    label: `token ${row.name} (${row.id}, created by ${row.createdBy})`,
    ip,
    onBehalfOfUserId: row.createdByUserId,
  };
  return {
    team: { id: row.teamId, slug: row.slug, name: row.teamName, role, actor },
    token: { id: row.id, name: row.name, scopes: row.scopes as Scope[] },
  };
}

/**
 * The caller's team when it is `slug` (another team's slug is NOT_FOUND, as for people) and the
 * token has `scope` (else FORBIDDEN).
 */
export function requireTokenTeam(caller: ApiCaller, slug: string, scope: Scope): TeamContext {
  if (caller.team.slug !== slug) throw notFound("That team");
  if (!caller.token.scopes.includes(scope))
    throw new AppError(
      "FORBIDDEN",
      `This token lacks the ${scope} scope (${scopeInfo[scope].label.toLowerCase()}). Create a token with it in Settings → API tokens.`,
    );
  return caller.team;
}

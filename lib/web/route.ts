import "server-only";
import { takeApiRequestAllTeams } from "../api-tokens/rate";
import { callerForTokenAllTeams, requireTokenTeam } from "../api-tokens/resolve";
import type { Scope } from "../api-tokens/scopes";
import { requireTeam } from "../auth/session";
import { env } from "../env";
import { AppError } from "../errors";
import type { TeamContext } from "../teams/context";
import type { Role } from "../teams/roles";
import { requestForgeryRefusal } from "./request-forgery";
import { secured, toHttpResponse, withBearerChallenge } from "./http";
import { clientIpOf } from "./request";

/**
 * A team-scoped route handler (`/…/[team]/…`): resolves the caller, the team and the role, and
 * maps errors to status codes. Callers are signed-in users for now; API tokens resolve here too.
 * Requests that change state (anything but GET and HEAD) must come from Coffer's own pages or
 * carry an API token (lib/web/request-forgery), with one of `contentTypes` when given.
 */
export function teamRoute<P extends object = object>(
  min: Role,
  handler: (t: TeamContext, request: Request, params: P) => Promise<Response>,
  opts: { contentTypes?: readonly string[] } = {},
) {
  return async (request: Request, ctx: { params: Promise<{ team: string } & P> }): Promise<Response> => {
    let response: Response;
    try {
      // Who is asking first: anonymous callers, other teams and too small a role learn nothing more.
      const params = await ctx.params;
      const t = await requireTeam(params.team, min);
      const forged = requestForgeryRefusal(request, { appUrl: env().APP_URL, contentTypes: opts.contentTypes });
      if (forged) throw forged;
      response = await handler(t, request, params);
    } catch (err) {
      response = toHttpResponse(err);
    }
    return secured(response);
  };
}

/**
 * A team-scoped route handler for API tokens (`Authorization: Bearer coffer_…`): the token must be
 * the team's (another team's slug is 404) and hold `scope` (else 403); 401s carry
 * `WWW-Authenticate`. Each request takes from the token's rate limit, the one /api/v1 takes from
 * (API_RATE_LIMIT_PER_MINUTE; 429 with Retry-After). The handler gets the token's TeamContext (its
 * role, "token <name> (<id>, created by <e-mail>)" as actor).
 */
export function tokenRoute<P extends object = object>(
  scope: Scope,
  handler: (t: TeamContext, request: Request, params: P) => Promise<Response>,
) {
  return async (request: Request, ctx: { params: Promise<{ team: string } & P> }): Promise<Response> => {
    try {
      const params = await ctx.params;
      const caller = await callerForTokenAllTeams(request.headers.get("authorization"), clientIpOf(request.headers));
      const wait = await takeApiRequestAllTeams(caller.token.id, env().API_RATE_LIMIT_PER_MINUTE);
      if (wait) {
        const limited = toHttpResponse(
          new AppError("RATE_LIMITED", `This token made too many requests; try again in ${wait} s.`),
        );
        limited.headers.set("Retry-After", String(wait));
        return secured(limited);
      }
      return secured(await handler(requireTokenTeam(caller, params.team, scope), request, params));
    } catch (err) {
      return secured(withBearerChallenge(toHttpResponse(err)));
    }
  };
}

import "server-only";
import { randomBytes } from "node:crypto";
import { callerForTokenAllTeams, requireTokenTeam } from "../api-tokens/resolve";
import type { Scope } from "../api-tokens/scopes";
import { requireTeam } from "../auth/session";
import { env } from "../env";
import { asAppError, httpStatus } from "../errors";
import { log } from "../log";
import type { TeamContext } from "../teams/context";
import type { Role } from "../teams/roles";
import { requestForgeryRefusal } from "./request-forgery";
import { securityHeaders } from "./security-headers";
import { clientIp } from "./request";

/**
 * Maps anything thrown to an HTTP response with the one error body every route answers with:
 * `{ "error": { "code", "message", "details" } }` — `details.fields` names each invalid field
 * (`body.serverId`) with its messages. AppError keeps its status; anything else is a 500 whose
 * message carries a reference that is also logged (the request id when there is one).
 */
export function toHttpResponse(err: unknown, requestId?: string): Response {
  const known = asAppError(err);
  if (known) {
    return Response.json(
      {
        error: {
          code: known.code,
          message: known.message,
          details: known.fieldErrors ? { fields: known.fieldErrors } : null,
        },
      },
      { status: httpStatus[known.code] },
    );
  }
  const ref = requestId ?? randomBytes(4).toString("hex");
  log.error("route failed", { ref, error: err });
  return Response.json(
    { error: { code: "INTERNAL", message: `Something went wrong on our side (reference ${ref}).`, details: null } },
    { status: 500 },
  );
}

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
      const forged = requestForgeryRefusal(request, { appUrl: env().APP_URL, contentTypes: opts.contentTypes });
      if (forged) throw forged;
      const params = await ctx.params;
      response = await handler(await requireTeam(params.team, min), request, params);
    } catch (err) {
      response = toHttpResponse(err);
    }
    return secured(response);
  };
}

/**
 * A team-scoped route handler for API tokens (`Authorization: Bearer coffer_…`): the token must be
 * the team's (another team's slug is 404) and hold `scope` (else 403); 401s carry
 * `WWW-Authenticate`. The handler gets the token's TeamContext (its role, "token <name>" as actor).
 */
export function tokenRoute<P extends object = object>(
  scope: Scope,
  handler: (t: TeamContext, request: Request, params: P) => Promise<Response>,
) {
  return async (request: Request, ctx: { params: Promise<{ team: string } & P> }): Promise<Response> => {
    try {
      const params = await ctx.params;
      const caller = await callerForTokenAllTeams(request.headers.get("authorization"), await clientIp());
      return secured(await handler(requireTokenTeam(caller, params.team, scope), request, params));
    } catch (err) {
      return secured(withBearerChallenge(toHttpResponse(err)));
    }
  };
}

/** What proxy.ts sends with pages, for data: no script may run, nothing may frame it. */
export function secured(response: Response): Response {
  const e = env();
  const headers = securityHeaders({ https: new URL(e.APP_URL).protocol === "https:", development: !e.production });
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}

/** A 401 says how to authenticate: with a bearer token. */
export function withBearerChallenge(response: Response): Response {
  if (response.status === 401) response.headers.set("WWW-Authenticate", 'Bearer realm="coffer"');
  return response;
}

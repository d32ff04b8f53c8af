import "server-only";
import { randomBytes } from "node:crypto";
import { requireTeam } from "../auth/session";
import { env } from "../env";
import { asAppError, httpStatus } from "../errors";
import { log } from "../log";
import type { TeamContext } from "../teams/context";
import type { Role } from "../teams/roles";
import { requestForgeryRefusal } from "./request-forgery";
import { securityHeaders } from "./security-headers";

/** Maps anything thrown to an HTTP response: AppError with its status, anything else as a 500 with a reference. */
export function toHttpResponse(err: unknown): Response {
  const known = asAppError(err);
  if (known) {
    return Response.json(
      { error: { code: known.code, message: known.message, fieldErrors: known.fieldErrors } },
      { status: httpStatus[known.code] },
    );
  }
  const ref = randomBytes(4).toString("hex");
  log.error("route failed", { ref, error: err });
  return Response.json(
    { error: { code: "INTERNAL", message: `Something went wrong on our side (reference ${ref}).` } },
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
    // What proxy.ts sends with pages, for data: no script may run, nothing may frame it.
    const e = env();
    const headers = securityHeaders({ https: new URL(e.APP_URL).protocol === "https:", development: !e.production });
    for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
    return response;
  };
}

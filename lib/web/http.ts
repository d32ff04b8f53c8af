import "server-only";
import { randomBytes } from "node:crypto";
import { env } from "../env";
import { asAppError, httpStatus } from "../errors";
import { log } from "../log";
import { securityHeaders } from "./security-headers";

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

import "server-only";
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { takeApiRequestAllTeams } from "../api-tokens/rate";
import { callerForTokenAllTeams, requireTokenTeam } from "../api-tokens/resolve";
import { closed } from "../api/closed";
import type { Operation } from "../api/operation";
import { env } from "../env";
import { AppError, asAppError, type FieldErrors } from "../errors";
import { assertRole, type TeamContext } from "../teams/context";
import { parseInput, queryParams } from "./input";
import { clientIpOf } from "./request";
import { secured, toHttpResponse, withBearerChallenge } from "./http";

/** The largest JSON body /api/v1 reads; uploads stream and have their own limits. */
export const API_BODY_LIMIT = 64 * 1024;

type In<S> = S extends z.ZodType ? z.infer<S> : undefined;
/** What a handler may return for a response schema: dates where it says strings (JSON makes them ISO 8601). */
type Dated<T> = T extends string
  ? string | Date
  : T extends (infer U)[]
    ? Dated<U>[]
    : T extends object
      ? { [K in keyof T]: Dated<T[K]> }
      : T;
type Out<S> = S extends z.ZodType ? Dated<z.input<S>> | Response : Response;

export interface ApiCall<P, Q, B, H = undefined> {
  /** The token's team: its role is the token's, its actor "token <name> (<id>, created by <e-mail>)". */
  t: TeamContext;
  params: In<P>;
  query: In<Q>;
  body: In<B>;
  headers: In<H>;
  request: Request;
}

/** A JSON answer checked against (and reduced to) `schema`; dates become ISO 8601 strings. */
export function apiJson<R extends z.ZodType>(schema: R, data: Dated<z.input<R>>, init?: ResponseInit): Response {
  return Response.json(schema.parse(JSON.parse(JSON.stringify(data))), init);
}

/** A caller's own X-Request-Id when it is a plain token, else a fresh one. */
function requestIdOf(request: Request): string {
  const sent = request.headers.get("x-request-id");
  return sent && /^[\w.:-]{1,100}$/.test(sent) ? sent : `req_${randomBytes(12).toString("hex")}`;
}

/** Parses one part of the request; field errors are named by where they are (`body.retention.dialy`). */
function parsePart<S extends z.ZodType>(
  where: "path" | "query" | "header" | "body",
  schema: S,
  read: () => unknown,
): z.infer<S> {
  try {
    return parseInput(schema, read());
  } catch (err) {
    const fields: FieldErrors = {};
    const add = (at: PropertyKey[], message: string) =>
      (fields[[where, ...at.map(String)].join(".")] ??= []).push(message);
    if (err instanceof z.ZodError) {
      for (const issue of err.issues)
        if (issue.code === "unrecognized_keys")
          for (const key of issue.keys) add([...issue.path, key.slice(0, 60)], issue.message);
        else add(issue.path, issue.message);
    } else {
      const known = asAppError(err);
      if (known?.code !== "VALIDATION" || !known.fieldErrors) throw err;
      for (const [k, v] of Object.entries(known.fieldErrors)) for (const m of v) add(k === "form" ? [] : [k], m);
    }
    throw invalid(fields);
  }
}

/** The names a body schema takes at its top level (every option's, for a union). */
function topLevelFields(schema: z.ZodType, into = new Set<string>()): Set<string> {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  const inner = (...keys: string[]) => keys.forEach((k) => def[k] && topLevelFields(def[k] as z.ZodType, into));
  if (def.type === "object") for (const name of Object.keys(def.shape as object)) into.add(name);
  else if (def.type === "union") for (const option of def.options as z.ZodType[]) topLevelFields(option, into);
  else if (def.type === "intersection") inner("left", "right");
  else if (def.type === "pipe") inner("in");
  else inner("innerType"); // optional, default, readonly…
  return into;
}

/**
 * A lib function names its field errors by its input's fields (`sourceIds`); the API names them by
 * where they are, as parsePart does: `body.sourceIds` for a field of the body (one its schema takes
 * at the top, or one the request sent beside them where it takes others). `form` and names that are
 * no field of the body (`host`, a path parameter) stay as they are.
 */
function namedInBody(err: unknown, fields: Set<string>, body: unknown): unknown {
  if (!(err instanceof AppError) || !err.fieldErrors) return err;
  const sent = body && typeof body === "object" ? body : {};
  const renamed: FieldErrors = {};
  for (const [name, messages] of Object.entries(err.fieldErrors)) {
    const top = name.split(".")[0]!;
    const key = name !== "form" && (fields.has(top) || Object.hasOwn(sent, top)) ? `body.${name}` : name;
    (renamed[key] ??= []).push(...messages);
  }
  const named = new AppError(err.code, err.message, renamed);
  named.stack = err.stack;
  return named;
}

function invalid(fields: FieldErrors): AppError {
  const list = Object.entries(fields).map(([k, v]) => `${k}: ${v.join(" ")}`);
  return new AppError("VALIDATION", `Fix the request: ${list.join("; ")}`, fields);
}

/** An operation that declares no query parameters refuses any (a typo of one it does not take is not ignored). */
function noQuery(request: Request) {
  const names = [...new Set(new URL(request.url).searchParams.keys())];
  if (names.length)
    throw invalid(
      Object.fromEntries(
        names.map((n) => [`query.${n.slice(0, 60)}`, ["This operation takes no query parameters: leave it out."]]),
      ),
    );
}

/**
 * An operation that declares no body refuses one, rather than ignore what it asks for: no body,
 * an empty one or `{}` (what some clients send with every POST) are fine.
 */
async function noBody(request: Request) {
  if (!request.body) return;
  const text = (await readLimited(request)).trim();
  if (!text) return;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {}
  const keys = json && typeof json === "object" && !Array.isArray(json) ? Object.keys(json) : null;
  if (keys?.length === 0) return;
  const message = "This operation takes no body: send none (or {}).";
  throw invalid(
    keys ? Object.fromEntries(keys.map((k) => [`body.${k.slice(0, 60)}`, [message]])) : { body: [message] },
  );
}

/** The body's text, refused beyond API_BODY_LIMIT bytes. */
async function readLimited(request: Request): Promise<string> {
  const declared = Number(request.headers.get("content-length"));
  if (declared > API_BODY_LIMIT) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body)
    for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > API_BODY_LIMIT) throw tooLarge();
      chunks.push(chunk);
    }
  return Buffer.concat(chunks).toString("utf8");
}

/** Reads a JSON body of at most API_BODY_LIMIT bytes. */
async function jsonBody(request: Request): Promise<unknown> {
  const type = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json")
    throw new AppError("VALIDATION", "Send the body as JSON with the header Content-Type: application/json.");
  const text = await readLimited(request);
  if (!text.trim()) throw new AppError("VALIDATION", "The body is empty: send a JSON object.");
  try {
    return JSON.parse(text);
  } catch (err) {
    // V8's message quotes the text around the fault, which can be a secret: only where it is.
    const at = /at position (\d+)/.exec((err as Error).message)?.[1];
    throw new AppError(
      "VALIDATION",
      `The body is not valid JSON${at ? ` (at character ${at})` : ""}. Send a JSON object.`,
    );
  }
}
/** A raw body (an upload) must say it is one of `types`. */
function rawBodyType(request: Request, types: readonly string[]) {
  const type = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (!type || !types.includes(type)) throw new AppError("VALIDATION", `Send the file with Content-Type: ${types[0]}.`);
}

const tooLarge = () =>
  new AppError("TOO_LARGE", `The body is larger than ${API_BODY_LIMIT / 1024} KiB; send only the fields listed.`);

/**
 * An `/api/v1` route handler for `op`: authenticates the bearer token (401 with WWW-Authenticate),
 * applies its rate limit (429 with Retry-After), `op.scope` and `op.role` (403; the token's role is
 * capped at its creator's), validates path, query and JSON body with `op`'s schemas (unknown fields
 * refused at any depth; query parameters or a body where `op` declares none refused too), and
 * answers JSON checked against `op.response` — or the handler's own Response (streams). Field
 * errors the handler throws are named as the request's are (`body.sourceIds`). Every answer
 * carries X-Request-Id and the one error body of toHttpResponse.
 */
export function apiRoute<
  P extends z.ZodObject | undefined,
  Q extends z.ZodObject | undefined,
  B extends z.ZodType | undefined,
  R extends z.ZodType | undefined,
  H extends z.ZodObject | undefined,
>(op: Operation<P, Q, B, R, H>, handler: (call: ApiCall<P, Q, B, H>) => Promise<Out<R>>) {
  // However an operation's schemas were written, every object in them refuses fields it does not name.
  const querySchema = op.query && closed(op.query, "query parameter");
  const bodySchema = op.body && closed(op.body);
  const bodyFields = op.body && topLevelFields(op.body);
  return async (request: Request, ctx: { params: Promise<Record<string, string>> }): Promise<Response> => {
    const requestId = requestIdOf(request);
    let response: Response;
    try {
      const caller = await callerForTokenAllTeams(request.headers.get("authorization"), clientIpOf(request.headers));
      const wait = await takeApiRequestAllTeams(caller.token.id, env().API_RATE_LIMIT_PER_MINUTE);
      if (wait) {
        response = toHttpResponse(
          new AppError("RATE_LIMITED", `This token made too many requests; try again in ${wait} s.`),
          requestId,
        );
        response.headers.set("Retry-After", String(wait));
      } else {
        const t = requireTokenTeam(caller, caller.team.slug, op.scope);
        if (op.role) assertRole(t, op.role);
        const routeParams = op.params ? await ctx.params : undefined;
        const params = op.params ? parsePart("path", op.params, () => routeParams) : undefined;
        const query = querySchema ? parsePart("query", querySchema, () => queryParams(request.url)) : noQuery(request);
        const headers = op.headers
          ? parsePart("header", op.headers, () => Object.fromEntries(request.headers))
          : undefined;
        if (!op.body && !op.rawBody) await noBody(request);
        const json = op.body ? await jsonBody(request) : undefined;
        const call = {
          t,
          request,
          params: params as In<P>,
          query: query as In<Q>,
          headers: headers as In<H>,
          body: (bodySchema ? parsePart("body", bodySchema, () => json) : undefined) as In<B>,
        };
        if (op.rawBody) rawBodyType(request, op.rawBody);
        const result = await handler(call).catch((err: unknown) => {
          throw bodyFields ? namedInBody(err, bodyFields, call.body) : err;
        });
        response =
          result instanceof Response ? result : apiJson(op.response as z.ZodType, result, { status: op.status ?? 200 });
      }
    } catch (err) {
      response = withBearerChallenge(toHttpResponse(err, requestId));
    }
    if (!response.headers.has("Cache-Control")) response.headers.set("Cache-Control", "no-store");
    response.headers.set("X-Request-Id", requestId);
    return secured(response);
  };
}

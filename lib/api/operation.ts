import type { z } from "zod";
import type { Scope } from "../api-tokens/scopes";
import type { Role } from "../teams/roles";

type Obj = z.ZodObject;

/**
 * One `/api/v1` operation: what it needs and accepts, described once. The route handler
 * (lib/web/api-route) validates requests and responses with these schemas, and the OpenAPI
 * document (lib/api/openapi) is generated from the same ones.
 */
export interface Operation<
  P extends Obj | undefined = Obj | undefined,
  Q extends Obj | undefined = Obj | undefined,
  B extends z.ZodType | undefined = z.ZodType | undefined,
  R extends z.ZodType | undefined = z.ZodType | undefined,
  H extends Obj | undefined = Obj | undefined,
> {
  id: string;
  method: "get" | "post" | "put" | "delete";
  /** Under /api/v1, with `{param}`s named as in the app/api/v1 folders. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  scope: Scope;
  /** The role the same server action needs; the token acts with at most its creator's (403 below it). */
  role?: Role;
  params?: P;
  query?: Q;
  /** A JSON body (refused when it has fields the schema does not name). */
  body?: B;
  /** Instead of JSON: the raw body, one of these media types (uploads). */
  rawBody?: readonly string[];
  /** Header parameters the handler reads (validated, lower-case names). */
  headers?: H;
  /** JSON answer; absent with `file`: the handler streams one. */
  response?: R;
  status?: 200 | 201 | 202;
  /** A repeated request (same Idempotency-Key) answers 200 with what the first made: what it gets. */
  replayed?: string;
  /** Another media type the JSON answer can come as instead (asked for in the query). */
  alsoAs?: string;
  /** A streamed file (downloads): its media type. */
  file?: string;
  /**
   * Statuses beside 400/401/403/404/429 (every operation's) this operation can answer, with when;
   * each with the Error body. A 413 adds to the one every JSON body has (over 64 KiB).
   */
  errors?: Partial<Record<408 | 409 | 413 | 416 | 502, string>>;
}

export const operation = <
  P extends Obj | undefined = undefined,
  Q extends Obj | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
  R extends z.ZodType | undefined = undefined,
  H extends Obj | undefined = undefined,
>(
  op: Operation<P, Q, B, R, H>,
) => op;

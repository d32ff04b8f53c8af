/**
 * Calls /api/v1 route handlers as Next.js would, with real Request objects, and checks JSON answers
 * against the published OpenAPI document.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import { expect } from "vitest";
import * as openapiRoute from "@/app/api/v1/openapi.json/route";

export type Handler = (request: Request, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;

let doc: { paths: Record<string, Record<string, { responses: Record<string, unknown> }>>; components: object };
/** Every JSON body the API sent, to look for secrets in. */
export const seen: string[] = [];

/** Calls `handler` as Next.js would for `METHOD /api/v1<url>`. */
export async function call(
  handler: Handler,
  method: string,
  url: string,
  opts: {
    token?: string | null;
    json?: unknown;
    raw?: BodyInit;
    headers?: Record<string, string>;
    params?: object;
  } = {},
) {
  doc ??= await (await openapiRoute.GET()).json();
  const headers = new Headers(opts.headers);
  if (opts.token) headers.set("authorization", `Bearer ${opts.token}`);
  if (opts.json !== undefined) headers.set("content-type", "application/json");
  const body = opts.json !== undefined ? JSON.stringify(opts.json) : opts.raw;
  const request = new Request(`http://127.0.0.1:3000/api/v1${url}`, {
    method,
    headers,
    body,
    ...(body && { duplex: "half" }),
  } as RequestInit);
  const response = await handler(request, { params: Promise.resolve((opts.params ?? {}) as Record<string, string>) });
  expect(response.headers.get("x-request-id")).toMatch(/^[\w.:-]+$/);
  const isJson = response.headers.get("content-type")?.startsWith("application/json");
  const bytes = Buffer.from(await response.arrayBuffer());
  const json = isJson ? JSON.parse(bytes.toString("utf8")) : undefined;
  if (isJson) seen.push(bytes.toString("utf8"));
  return { status: response.status, headers: response.headers, json, bytes };
}

/** The answer's body conforms to what the document publishes for that path, method and status. */
export function conforms(template: string, method: string, r: { status: number; json: unknown }) {
  let answer = doc.paths[`/api/v1${template}`]?.[method]?.responses[String(r.status)] as
    { $ref?: string; content?: Record<string, { schema: object }> } | undefined;
  expect(answer, `${method} ${template} ${r.status} is documented`).toBeDefined();
  if (answer?.$ref)
    answer = (doc.components as Record<string, Record<string, object>>).responses![answer.$ref.split("/").at(-1)!];
  const schema = answer!.content!["application/json"]!.schema;
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  const validate = ajv.compile({ ...schema, components: doc.components });
  expect(validate(r.json), JSON.stringify(validate.errors)).toBe(true);
}

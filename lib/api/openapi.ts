import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from "zod-openapi";
import { scopeInfo } from "../api-tokens/scopes";
import { operations } from "./index";
import type { Operation } from "./operation";
import { errorSchema } from "./schemas";

const errorContent = { "application/json": { schema: errorSchema } };
const requestIdHeader = {
  "X-Request-Id": {
    description: "This request's id (yours when you sent a plain one); quote it in reports.",
    schema: { type: "string" as const },
  },
};
const errorResponse = (description: string, id?: string) => ({
  ...(id && { id }),
  description,
  content: errorContent,
  headers: requestIdHeader,
});
// Registered once as components (the same objects each time); an operation's own (409, 413, 416) stay inline.
const standardErrors = Object.fromEntries(
  Object.entries({
    "400":
      "The request is invalid: `details.fields` names each field (`body.serverId`, `query.limit`) and what to fix.",
    "401": "The token is missing, malformed, unknown, revoked or expired (with `WWW-Authenticate: Bearer`).",
    "403": "The token lacks this operation's scope, or its role (its creator's at creation) is too small.",
    "404": "Nothing with that id in the token's team.",
    "429": "The token made too many requests; `Retry-After` says how many seconds to wait.",
  }).map(([code, description]) => [code, errorResponse(description, `Error${code}`)]),
);

const bodyTooLarge = errorResponse("The JSON body is over 64 KiB.", "Error413");

function describe(op: Operation): ZodOpenApiOperationObject {
  const status = String(op.status ?? 200);
  const ok = op.file
    ? {
        description: "The whole file; a Range request answers 206 with that part.",
        content: { [op.file]: { schema: { type: "string" as const, format: "binary" } } },
        headers: requestIdHeader,
      }
    : {
        description: "OK",
        content: {
          "application/json": { schema: op.response! },
          ...(op.alsoAs && { [op.alsoAs]: { schema: { type: "string" as const } } }),
        },
        headers: requestIdHeader,
      };
  return {
    operationId: op.id,
    summary: op.summary,
    description: [
      op.description,
      `Scope: \`${op.scope}\` (${scopeInfo[op.scope].label.toLowerCase()})${op.role ? `; the token's role at least ${op.role}` : ""}.`,
    ]
      .filter(Boolean)
      .join("\n\n"),
    tags: [op.tag],
    requestParams: {
      ...(op.params && { path: op.params }),
      ...(op.query && { query: op.query }),
      ...(op.headers && { header: op.headers }),
    },
    ...(op.body && { requestBody: { required: true, content: { "application/json": { schema: op.body } } } }),
    ...(op.rawBody && {
      requestBody: {
        required: true,
        content: Object.fromEntries(
          op.rawBody.map((t) => [t, { schema: { type: "string" as const, format: "binary" } }]),
        ),
      },
    }),
    responses: {
      [status]: ok,
      ...(op.file && { "206": { ...ok, description: "The requested range (Content-Range says which)." } }),
      ...(op.replayed && {
        "200": {
          description: op.replayed,
          content: ok.content,
          headers: requestIdHeader,
        },
      }),
      ...standardErrors,
      ...(op.body && { "413": bodyTooLarge }),
      ...Object.fromEntries(Object.entries(op.errors ?? {}).map(([code, d]) => [code, errorResponse(d)])),
    },
  };
}

/** The OpenAPI 3.1 document of /api/v1, generated from the operations' zod schemas. */
export function openApiDocument(serverUrl: string) {
  const paths: ZodOpenApiPathsObject = {};
  for (const op of operations) (paths[`/api/v1${op.path}`] ??= {})[op.method] = describe(op);
  return createDocument({
    openapi: "3.1.0",
    info: {
      title: "Coffer API",
      version: "1",
      description:
        "Drive Coffer without the browser. Authenticate with a team API token (Settings → API tokens): " +
        "`Authorization: Bearer coffer_…`. Times are ISO 8601 in UTC; names are camelCase; unknown fields are " +
        "refused at any depth, and so are query parameters an operation does not list. An operation without a " +
        "request body takes none: send no body (or `{}`).",
    },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "A team API token, coffer_…" } },
    },
    paths,
  });
}

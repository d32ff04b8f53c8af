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
const header = (description: string, type: "string" | "integer" = "string") => ({ description, schema: { type } });
/** What an error answer carries beside its body and X-Request-Id, by status. */
const errorHeaders: Record<string, Record<string, ReturnType<typeof header>>> = {
  "401": { "WWW-Authenticate": header('`Bearer realm="coffer"`.') },
  "416": { "Content-Range": header("`bytes */<size>`: the file's size in bytes, to ask for a range within it.") },
  "429": { "Retry-After": header("How many seconds to wait.", "integer") },
};
const errorResponse = (code: string, description: string, id?: string) => ({
  ...(id && { id }),
  description,
  content: errorContent,
  headers: { ...requestIdHeader, ...errorHeaders[code] },
});
// Registered once as components (the same objects each time); an operation's own (`errors`) stay inline.
const standardErrors = Object.fromEntries(
  Object.entries({
    "400":
      "The request is invalid: `details.fields` names each field (`body.serverId`, `query.limit`) and what to fix.",
    "401": "The token is missing, malformed, unknown, revoked or expired (with `WWW-Authenticate: Bearer`).",
    "403": "The token lacks this operation's scope, or its role (its creator's at creation) is too small.",
    "404": "Nothing with that id in the token's team.",
    "429": "The token made too many requests; `Retry-After` says how many seconds to wait.",
  }).map(([code, description]) => [code, errorResponse(code, description, `Error${code}`)]),
);

const bodyTooLarge = "The JSON body is over 64 KiB.";
const bodyTooLargeResponse = errorResponse("413", bodyTooLarge, "Error413");

/** An operation's own error answers; with a JSON body, its 413 says both why it can come. */
function ownErrors(op: Operation) {
  const own = Object.entries(op.errors ?? {}).map(([code, d]): [string, string] => [
    code,
    code === "413" && op.body ? `${bodyTooLarge.slice(0, -1)}, or ${d[0]!.toLowerCase()}${d.slice(1)}` : d,
  ]);
  return {
    ...(op.body && { "413": bodyTooLargeResponse }),
    ...Object.fromEntries(own.map(([code, d]) => [code, errorResponse(code, d)])),
  };
}

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
      ...ownErrors(op),
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

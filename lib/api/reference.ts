import "server-only";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";

/**
 * The interactive API reference: Scalar's standalone browser bundle, served by Coffer itself (no
 * CDN: installs without internet must work), pointed at /api/v1/openapi.json. Its fonts, telemetry,
 * AI agent and MCP links are off, so the page asks nothing of any other host.
 */
const SCALAR_BUNDLE = "node_modules/@scalar/api-reference/dist/browser/standalone.js";
const BUNDLE_URL = "/api/v1/reference/scalar.js";

const configuration = {
  url: "/api/v1/openapi.json",
  withDefaultFonts: false,
  telemetry: false,
  agent: { disabled: true },
  mcp: { disabled: true },
  showDeveloperTools: "never",
  persistAuth: false,
};

const escapeAttribute = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

/** The page: the bundle (with this response's CSP nonce) reads its settings from #api-reference. */
export function referencePage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Coffer API reference</title>
</head>
<body>
<div id="api-reference" data-configuration="${escapeAttribute(JSON.stringify(configuration))}"></div>
<script nonce="${nonce}" src="${BUNDLE_URL}"></script>
</body>
</html>
`;
}

/** The bundle as a stream, with its size (resolved from the working directory, as db/migrations is). */
export async function scalarBundle(): Promise<{ body: ReadableStream<Uint8Array>; size: number }> {
  const file = path.join(process.cwd(), SCALAR_BUNDLE);
  const { size } = await stat(file);
  return { body: Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>, size };
}

import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openApiDocument } from "./openapi";

const root = path.join(import.meta.dirname, "../../app/api/v1");
/** Routes under app/api/v1 that are not API operations: the document itself and its reference page. */
const notOperations = new Set(["GET /api/v1/openapi.json", "GET /api/v1/reference", "GET /api/v1/reference/scalar.js"]);

/** Every `METHOD /api/v1/path` that a route.ts under app/api/v1 exports, `[param]` as `{param}`. */
function routesOnDisk(dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return routesOnDisk(full);
    if (e.name !== "route.ts") return [];
    const url = `/api/v1/${path.relative(root, dir)}`.replace(/\/$/, "").replace(/\[(\w+)\]/g, "{$1}");
    const methods = [
      ...readFileSync(full, "utf8").matchAll(/export (?:const|async function|function) (GET|POST|PUT|PATCH|DELETE)\b/g),
    ];
    return methods.map((m) => `${m[1]} ${url}`);
  });
}

describe("the OpenAPI document", () => {
  it("documents exactly the operations app/api/v1 serves", () => {
    const doc = openApiDocument("http://127.0.0.1");
    const documented = Object.entries(doc.paths ?? {}).flatMap(([url, item]) =>
      Object.keys(item ?? {}).map((m) => `${m.toUpperCase()} ${url}`),
    );
    const served = routesOnDisk().filter((r) => !notOperations.has(r));
    expect(served.length).toBeGreaterThan(5);
    expect(documented.sort()).toEqual(served.sort());
  });

  it("gives every operation an id, a scope and the standard error answers", () => {
    const doc = openApiDocument("http://127.0.0.1");
    for (const item of Object.values(doc.paths ?? {}))
      for (const op of Object.values(item ?? {}) as {
        operationId?: string;
        description?: string;
        responses: object;
      }[]) {
        expect(op.operationId).toBeTruthy();
        expect(op.description).toMatch(/Scope: `/);
        expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["400", "401", "403", "404", "429"]));
      }
  });

  it("declares the statuses beside the standard ones that handlers answer, with the headers they carry", () => {
    const doc = openApiDocument("http://127.0.0.1");
    type Answer = { description: string; headers?: Record<string, unknown>; content?: Record<string, unknown> };
    const answers = (url: string, method: string) =>
      (doc.paths?.[`/api/v1${url}`] as Record<string, { responses: Record<string, Answer> }>)[method]!.responses;
    // What lib/ throws on these paths: a name in use, a stalled or oversized upload, a team over its quota.
    const expected: [string, string, string[]][] = [
      ["/schedules", "post", ["409"]],
      ["/schedules/{scheduleId}", "put", ["409"]],
      ["/schedules/{scheduleId}/run", "post", ["413"]],
      ["/backups", "post", ["409", "413"]],
      ["/backups/upload", "post", ["408", "413", "502"]],
      ["/backups/{backupId}/download", "get", ["409", "416", "502"]],
    ];
    for (const [url, method, statuses] of expected)
      expect(Object.keys(answers(url, method)), `${method} ${url}`).toEqual(expect.arrayContaining(statuses));
    // A 416 says the file's size (RFC 9110) and has every error's body.
    const range = answers("/backups/{backupId}/download", "get")["416"]!;
    expect(Object.keys(range.headers ?? {})).toContain("Content-Range");
    expect(Object.keys(range.content ?? {})).toEqual(["application/json"]);
    // A JSON body's 413 keeps saying the body can be too large, beside the operation's own reason.
    expect(answers("/backups", "post")["413"]!.description).toMatch(/^The JSON body is over 64 KiB, or the team's/);
  });

  it("closes every object of every request body: a field it does not name is refused, at any depth", () => {
    const doc = openApiDocument("http://127.0.0.1");
    const components = (doc.components?.schemas ?? {}) as Record<string, unknown>;
    const open: string[] = [];
    const walk = (node: unknown, at: string, seen: Set<unknown>): void => {
      if (!node || typeof node !== "object" || seen.has(node)) return;
      seen.add(node);
      const n = node as Record<string, unknown>;
      if (typeof n.$ref === "string") return walk(components[n.$ref.split("/").at(-1)!], at, seen);
      const union = n.oneOf ?? n.anyOf ?? n.allOf; // its options are the objects
      if ((n.type === "object" || n.properties) && !union && n.additionalProperties === undefined) open.push(at);
      for (const [k, v] of Object.entries(n)) walk(v, `${at}/${k}`, seen);
    };
    let bodies = 0;
    for (const [url, item] of Object.entries(doc.paths ?? {}))
      for (const [method, op] of Object.entries(item ?? {})) {
        const schema = (op as { requestBody?: { content: Record<string, { schema: unknown }> } }).requestBody?.content[
          "application/json"
        ]?.schema;
        if (!schema) continue;
        bodies++;
        walk(schema, `${method.toUpperCase()} ${url}`, new Set());
      }
    expect(bodies).toBeGreaterThan(10);
    expect(open).toEqual([]);
  });
});

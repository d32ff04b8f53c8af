import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { reservedSlugs } from "./schemas";

/** The first path segments app/ serves itself, route groups `(x)` looked into. */
function topSegments(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith("_") && !e.name.startsWith("["))
    .flatMap((e) => (/^\(.*\)$/.test(e.name) ? topSegments(path.join(dir, e.name)) : [e.name]));
}

describe("team addresses", () => {
  it("cannot take a first path segment the app serves itself (a team there would be unreachable)", () => {
    const segments = topSegments(path.join(import.meta.dirname, "../../app"));
    expect(segments).toEqual(expect.arrayContaining(["help", "account", "sign-in", "api"]));
    expect(segments.filter((s) => !reservedSlugs.has(s))).toEqual([]);
  });
});

import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { catalogue, eventTypes } from "./catalogue";
import { exampleData } from "./examples";

const readme = readFileSync(path.resolve(import.meta.dirname, "../../README.md"), "utf8");

describe("README.md's event catalogue", () => {
  it("shows every event with the payload Coffer sends for it, and lists no other", () => {
    for (const type of eventTypes) {
      const block = new RegExp(`<!-- event:${type.replace(".", "\\.")} -->\\s*\`\`\`json\\n([\\s\\S]*?)\\n\`\`\``).exec(
        readme,
      );
      expect(block, type).not.toBeNull();
      expect(JSON.parse(block![1]!), type).toEqual({
        id: "evt_0example0000000000000000",
        type,
        version: catalogue[type].version,
        timestamp: "2026-05-04T02:01:14.000Z",
        team: { id: "team_0example000000000000000", slug: "acme", name: "Acme" },
        data: exampleData(type, "https://coffer.example.com/acme"),
      });
    }
    expect(readme.match(/<!-- event:/g)).toHaveLength(eventTypes.length);
  });
});

import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

// The import rules of .dependency-cruiser.cjs, run on small trees laid out like the project: each
// rule must fail on the import it forbids, and a tree that keeps the rules must pass.
const root = path.resolve(import.meta.dirname, "..");
const run = promisify(execFile);
const scratch = mkdtempSync(path.join(tmpdir(), "coffer-boundaries-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function cruise(files: Record<string, string>): Promise<{ ok: boolean; output: string }> {
  const dir = mkdtempSync(path.join(scratch, "tree-"));
  const tree = { "tsconfig.json": JSON.stringify({ compilerOptions: { paths: { "@/*": ["./*"] } } }), ...files };
  for (const [name, text] of Object.entries(tree)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  const bin = path.join(root, "node_modules/.bin/depcruise");
  const config = path.join(root, ".dependency-cruiser.cjs");
  try {
    const { stdout } = await run(bin, ["app", "lib", "db", "inngest", "--config", config], { cwd: dir });
    return { ok: true, output: stdout };
  } catch (err) {
    return { ok: false, output: String((err as { stdout?: string }).stdout) };
  }
}

const layered = {
  "db/schema.ts": "export const table = 1;\n",
  "lib/feature.ts": 'import { table } from "@/db/schema";\nexport const feature = table;\n',
  "app/page.ts": 'import { feature } from "@/lib/feature";\nexport default feature;\n',
  "inngest/fn.ts": 'import { feature } from "../lib/feature";\nexport const fn = feature;\n',
};

describe("import boundaries", () => {
  it("pass for a tree whose arrows point one way", async () => {
    const r = await cruise(layered);
    expect(r.output).toMatch(/no dependency violations/);
    expect(r.ok).toBe(true);
  });

  it.each([
    [
      "no-cycles",
      {
        "lib/a.ts": 'import { b } from "./b";\nexport const a = b;\n',
        "lib/b.ts": 'import { a } from "./a";\nexport const b = () => a;\n',
      },
    ],
    ["app-only-through-lib", { "app/other.ts": 'import { table } from "@/db/schema";\nexport const x = table;\n' }],
    ["app-only-through-lib", { "app/other.ts": 'import { fn } from "@/inngest/fn";\nexport const x = fn;\n' }],
    ["inngest-not-db", { "inngest/other.ts": 'import { table } from "../db/schema";\nexport const x = table;\n' }],
    ["lib-not-up", { "lib/other.ts": 'import { fn } from "@/inngest/fn";\nexport const x = fn;\n' }],
    ["lib-not-up", { "lib/other.ts": 'import page from "@/app/page";\nexport const x = page;\n' }],
    ["db-is-the-floor", { "db/other.ts": 'import { feature } from "../lib/feature";\nexport const x = feature;\n' }],
  ])("fail with %s on the import it forbids", async (rule, extra) => {
    const r = await cruise({ ...layered, ...extra });
    expect(r.ok).toBe(false);
    expect(r.output).toContain(`error ${rule}:`);
  });
});

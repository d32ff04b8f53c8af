import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localReach } from "../reach";
import { ServerDirAdapter } from "./server-dir";

// A server directory lists as `find` prints (scans of folders with very many files), and a reader
// that stops early ends the command; a range reads exactly its bytes.

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), "coffer-serverdir-list-"));
  for (let d = 0; d < 20; d++) {
    mkdirSync(path.join(root, "p", `d${d}`), { recursive: true });
    for (let f = 0; f < 250; f++) writeFileSync(path.join(root, "p", `d${d}`, `f ${f}.txt`), "x".repeat(f));
  }
  writeFileSync(path.join(root, "p", "d0", ".f.coffer-run-1.tmp"), "partial");
  writeFileSync(path.join(root, "outside.txt"), "not under the prefix");
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("ServerDirAdapter.list", () => {
  it("lists every file under the prefix with its size, without temporary uploads", async () => {
    const adapter = new ServerDirAdapter(localReach(), root, "p");
    const seen = new Map<string, number>();
    for await (const o of adapter.list("")) seen.set(o.key, o.size);
    expect(seen.size).toBe(5000);
    expect(seen.get("d7/f 123.txt")).toBe(123);
    expect([...seen.keys()].some((k) => k.endsWith(".tmp"))).toBe(false);
    const d3 = [];
    for await (const o of adapter.list("d3/")) d3.push(o.key);
    expect(d3).toHaveLength(250);
  });

  it("a reader that stops after a few files ends the listing", async () => {
    const reach = localReach();
    const adapter = new ServerDirAdapter(reach, root, "p");
    let n = 0;
    for await (const _ of adapter.list("")) if (++n === 3) break;
    expect(n).toBe(3);
    await reach.close(); // resolves only once no command of the reach is left running
  });
});

describe("ServerDirAdapter.get", () => {
  it("returns exactly a range's bytes, its end cut to the object's, and refuses one starting past it", async () => {
    const adapter = new ServerDirAdapter(localReach(), root, "p");
    const data = randomBytes(3 * 1024 * 1024 + 5); // larger than a pipe holds
    writeFileSync(path.join(root, "p", "ranged.bin"), data);
    const get = async (range: { start: number; end?: number }) => {
      const chunks: Buffer[] = [];
      for await (const c of await adapter.get("ranged.bin", { range })) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    };
    for (const [start, end] of [
      [10, 19],
      [100, 100 + 65_535],
      [data.length - 50, data.length + 1_000],
      [data.length - 1, undefined],
    ] as const)
      expect((await get({ start, end })).equals(data.subarray(start, end === undefined ? undefined : end + 1))).toBe(
        true,
      );
    await expect(get({ start: data.length })).rejects.toMatchObject({ code: "VALIDATION" });
  });
});

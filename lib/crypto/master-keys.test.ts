import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";

// Before the module reads the configuration: no MASTER_KEYS, an empty data folder.
const dataDir = mkdtempSync(path.join(tmpdir(), "coffer-devkey-"));
process.env.DATA_DIR = dataDir;
delete process.env.MASTER_KEYS;
const { keyring } = await import("./master-keys");
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("the development master key", () => {
  it("is generated once into the data folder, whole, readable by its owner only, with nothing else left there", () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const keys = keyring();
    expect(keys.source).toBe("dev-file");
    const file = path.join(dataDir, "master-keys");
    expect(readFileSync(file, "utf8")).toBe(`${keys.active.id}:${keys.active.key.toString("base64")}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dataDir)).toEqual(["master-keys"]);
  });
});

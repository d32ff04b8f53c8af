import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { keyring } from "./master-keys";
import { assertMasterKeysPresent } from "../startup";

/** `npm run keys:rotate` as an operator runs it, with `env` over this test's environment. */
function rotate(env: Record<string, string | undefined>) {
  const r = spawnSync(process.execPath, ["--conditions=react-server", "--import", "tsx", "scripts/rotate-keys.mts"], {
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// On PostgreSQL only: the int-pglite project's embedded database is held open by this process,
// and one process at a time may open it.
describe.runIf(process.env.DATABASE_URL)("npm run keys:rotate", () => {
  it("refuses a database Coffer never started on, never saying a key may go; rotates Coffer's own", async () => {
    const empty = mkdtempSync(path.join(tmpdir(), "coffer-rotate-"));
    try {
      // DATABASE_URL left out of the command: the embedded database, which is not there.
      const missing = rotate({ DATABASE_URL: undefined, DATA_DIR: empty });
      expect(missing.code).toBe(1);
      expect(missing.err).toContain(
        `Coffer has not started on the embedded database in ${path.join(empty, "pglite")} with this version (its start records the master keys): set DATABASE_URL (or DATA_DIR) as Coffer runs with, start Coffer once, then run this again. No key may be removed yet.`,
      );
      expect(missing.out).not.toMatch(/can be removed/);
      expect(existsSync(path.join(empty, "pglite"))).toBe(false);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    // This test's database, where Coffer has not started yet.
    const fresh = rotate({});
    expect(fresh.code).toBe(1);
    expect(fresh.err).toMatch(/^Coffer has not started on PostgreSQL database t_\w+ at .* with this version/);
    expect(fresh.out).not.toMatch(/can be removed/);

    await assertMasterKeysPresent(keyring()); // what Coffer's start does
    const done = rotate({});
    expect(done.err).toBe("");
    expect(done.code).toBe(0);
    expect(done.out).toContain(`Every secret and data key is now under "${keyring().active.id}".`);
  });
});

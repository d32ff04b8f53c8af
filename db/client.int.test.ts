import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openDatabase } from "./client";

describe("the embedded database (PGlite)", () => {
  it("is opened by one process at a time; a lock left by a process that is gone is taken over", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "coffer-pglite-lock-"));
    const lock = path.join(dataDir, "pglite.lock");
    try {
      const opened = await openDatabase({ dataDir });
      // What the README's key rotation did while Coffer ran: another process on the same folder.
      const other = spawnSync("npx", ["tsx", "--conditions=react-server", "scripts/migrate.mts"], {
        env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: "" },
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(other.status).not.toBe(0);
      expect(other.stderr).toContain(
        `Coffer's embedded database ${path.join(dataDir, "pglite")} is open in another process (pid ${process.pid}). Stop it first: two processes using it at once can damage it. If no Coffer runs, delete ${lock}.`,
      );
      await opened.close();
      expect(existsSync(lock)).toBe(false);

      // Left by a process that is gone, and by one whose pid a new process got (another start time).
      for (const left of ["999999999 1", `${process.pid} 1`]) {
        writeFileSync(lock, left);
        const again = await openDatabase({ dataDir });
        await again.migrate();
        await again.close();
        expect(existsSync(lock)).toBe(false);
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});

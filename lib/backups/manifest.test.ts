import { describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { manifestSchema, parseManifest, type Manifest } from "./manifest";

const valid: Manifest = {
  format: 1,
  coffer: "0.1.0",
  backupId: "bk_1",
  server: "db1",
  startedAt: "2026-01-02T03:04:05.000Z",
  finishedAt: "2026-01-02T03:04:09.000Z",
  sources: [
    { kind: "postgres", id: "src_a", name: "Shop", host: "localhost", port: 5432, database: "shop", user: "backup" },
    { kind: "directory", id: "src_b", name: "Site", paths: ["/var/www"], excludes: ["*.log"] },
  ],
  entries: [
    { path: "postgres/shop.sql", size: 1234, sha256: "0".repeat(64) },
    { path: "files/var/www/index.html", size: 0, sha256: "f".repeat(64) },
  ],
  postgres: [
    {
      source: "src_a",
      database: "shop",
      path: "postgres/shop.sql",
      serverVersion: "15.18",
      pgDumpVersion: "pg_dump (PostgreSQL) 15.18",
      snapshot: "00000003-0000001B-1",
      tables: [{ schema: "public", table: "Order Lines", rows: 3 }],
    },
  ],
};

describe("manifest", () => {
  it("round-trips through JSON", () => {
    expect(parseManifest(JSON.stringify(valid))).toEqual(valid);
    expect(parseManifest(Buffer.from(JSON.stringify(valid)))).toEqual(valid);
    expect(manifestSchema.parse(valid)).toEqual(valid);
  });

  it("refuses what a reader must not trust, saying where", () => {
    const bad = (patch: object) => () => parseManifest({ ...valid, ...patch });
    expect(bad({ format: 2 })).toThrow(/not a Coffer manifest \(format 1\): format/);
    expect(bad({ entries: [{ path: "../etc/passwd", size: 1, sha256: "0".repeat(64) }] })).toThrow(/entries\.0\.path/);
    expect(bad({ entries: [{ path: "/etc/passwd", size: 1, sha256: "0".repeat(64) }] })).toThrow(AppError);
    expect(bad({ entries: [{ path: "a//b", size: 1, sha256: "0".repeat(64) }] })).toThrow(AppError);
    expect(bad({ entries: [{ path: "a", size: -1, sha256: "0".repeat(64) }] })).toThrow(AppError);
    expect(bad({ entries: [{ path: "a", size: 1, sha256: "XYZ" }] })).toThrow(AppError);
    expect(bad({ startedAt: "yesterday" })).toThrow(/startedAt/);
    // Times PostgreSQL cannot store: year 0, as such or once in UTC.
    expect(bad({ finishedAt: "0000-01-01T00:00:00Z" })).toThrow(/finishedAt: a time from the year 1 to 9999/);
    expect(bad({ startedAt: "0001-01-01T00:30:00+01:00" })).toThrow(/startedAt: a time from the year 1 to 9999/);
    expect(parseManifest({ ...valid, finishedAt: "9999-12-31T23:59:59Z" }).finishedAt).toBe("9999-12-31T23:59:59Z");
    expect(bad({ sources: [{ kind: "ftp", id: "x" }] })).toThrow(AppError);
    expect(() => parseManifest("{not json")).toThrow(
      "The archive's manifest.json is not valid JSON: the archive is damaged or not a Coffer backup.",
    );
  });
});

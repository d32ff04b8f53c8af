import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { canonicalStorageClass, checkKey, checkListPrefix, KeySpace, meteredUpload, normalizePrefix } from "./common";

describe("keys", () => {
  it("accepts relative slash-separated keys and refuses the rest", () => {
    for (const ok of ["a", "a/b.bin", ".coffer-probe/x", "team_1/bkp_2/part-0001", "ü/ñ"])
      expect(checkKey(ok)).toBe(ok);
    for (const bad of ["", "/a", "a/", "a//b", "../a", "a/../b", "./a", "a\\b", "a\0b", "x".repeat(900)]) {
      expect(() => checkKey(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: "VALIDATION" }));
    }
  });

  it("accepts list prefixes ending in / or mid-name", () => {
    for (const ok of ["", "a", "a/", "a/b", "a/b/"]) expect(checkListPrefix(ok)).toBe(ok);
    for (const bad of ["/", "/a", "a//", "../", "a/../"]) expect(() => checkListPrefix(bad), bad).toThrow();
  });

  it("places keys under the destination prefix and back", () => {
    expect(normalizePrefix(" /backups/prod/ ")).toBe("backups/prod");
    expect(normalizePrefix(undefined)).toBe("");
    expect(() => normalizePrefix("a/../b")).toThrow();
    const ks = new KeySpace("backups");
    expect(ks.full("x/y")).toBe("backups/x/y");
    expect(ks.fullListPrefix("")).toBe("backups/");
    expect(ks.relative("backups/x/y")).toBe("x/y");
    expect(ks.relative("backups2/x")).toBeUndefined();
    expect(ks.relative("backups/folder/")).toBeUndefined();
    expect(new KeySpace("").full("x")).toBe("x");
  });
});

describe("storage classes", () => {
  it("canonicalises case and refuses unknown classes", () => {
    expect(canonicalStorageClass("s3", "standard_ia")).toBe("STANDARD_IA");
    expect(canonicalStorageClass("azure", "ARCHIVE")).toBe("Archive");
    expect(canonicalStorageClass("gcs", "Nearline")).toBe("NEARLINE");
    expect(() => canonicalStorageClass("s3", "NEARLINE")).toThrow(
      /STANDARD, STANDARD_IA, GLACIER_IR, GLACIER, DEEP_ARCHIVE/,
    );
  });
});

describe("meteredUpload: whose failure it is", () => {
  const mapped = (err: unknown) => new Error(`storage: ${(err as Error).message}`);
  const body = (chunks: number, failAt?: number) =>
    Readable.from(
      (function* () {
        for (let i = 0; i < chunks; i++) {
          if (i === failAt) throw new Error("the source broke");
          yield Buffer.alloc(64 * 1024, i);
        }
      })(),
    );

  it("a destination that fails while writing (a full disk) is mapped as the destination's error", async () => {
    const disk = new Writable({
      write: (_c, _e, cb) => cb(Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" })),
    });
    await expect(meteredUpload(body(50), undefined, (source) => pipeline(source, disk), mapped)).rejects.toThrow(
      "storage: ENOSPC: no space left on device",
    );
  });

  it("a sender that stops reading and throws is mapped as the destination's error", async () => {
    const send = async (source: Readable) => {
      for await (const _ of source) throw new Error("the connection was reset");
    };
    await expect(meteredUpload(body(50), undefined, send, mapped)).rejects.toThrow("storage: the connection was reset");
  });

  it("a source that fails is reported as it is, not as the destination's", async () => {
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    await expect(meteredUpload(body(50, 3), undefined, (source) => pipeline(source, sink), mapped)).rejects.toThrow(
      /^the source broke$/,
    );
  });
});

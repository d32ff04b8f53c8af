import { describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import {
  checkBackupId,
  dumpPaths,
  findArgs,
  freeSpaceProblem,
  normalizePaths,
  parseSha256Output,
  parseStatOutput,
} from "./plan";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe("freeSpaceProblem", () => {
  it("accepts when half the databases (their compressed dumps) plus the headroom fit, refuses otherwise with what to do", () => {
    expect(
      freeSpaceProblem({ dir: "/var/tmp", server: "db1", freeBytes: 10 * GiB, databaseBytes: 2 * GiB }),
    ).toBeUndefined();
    expect(
      freeSpaceProblem({ dir: "/var/tmp", server: "db1", freeBytes: GiB + 64 * MiB, databaseBytes: 2 * GiB }),
    ).toBeUndefined();
    expect(
      freeSpaceProblem({ dir: "/var/tmp", server: "db1", freeBytes: GiB + 63 * MiB, databaseBytes: 2 * GiB }),
    ).toBe(
      "Not enough free space in /var/tmp on db1: 1.1 GiB free, need about 1.1 GiB. Free some space there, or choose another work folder in the server's settings.",
    );
    expect(
      freeSpaceProblem({ dir: "/w", server: "s", freeBytes: 500 * MiB, databaseBytes: 0, headroomBytes: GiB }),
    ).toBe(
      "Not enough free space in /w on s: 500.0 MiB free, need about 1.0 GiB. Free some space there, or choose another work folder in the server's settings.",
    );
    expect(
      freeSpaceProblem({ dir: "/w", server: "s", freeBytes: 0, databaseBytes: 0, headroomBytes: 0 }),
    ).toBeUndefined();
  });
});

describe("dumpPaths", () => {
  it("names dumps after databases, safe to extract and unique", () => {
    const paths = dumpPaths([
      { id: "a", database: "shop" },
      { id: "b", database: "shop" },
      { id: "c", database: "../etc/passwd" },
      { id: "d", database: ".hidden" },
      { id: "e", database: "new\nline" },
      { id: "f", database: "" },
      { id: "g", database: "globals" },
    ]);
    expect(paths).toEqual([
      "postgres/shop.sql",
      "postgres/shop-b.sql",
      "postgres/_.._etc_passwd.sql",
      "postgres/_.hidden.sql",
      "postgres/new_line.sql",
      "postgres/_.sql",
      "postgres/globals-g.sql",
    ]);
    for (const p of paths)
      expect(
        p
          .split("/")
          .slice(1)
          .every((part) => part !== ".." && part !== "."),
      ).toBe(true);
  });
});

describe("normalizePaths", () => {
  it("normalizes, drops nested paths and refuses unsafe ones", () => {
    expect(normalizePaths(["/var/www/", "//srv//data", "/var/www/html", "/var/www"])).toEqual([
      "/srv/data",
      "/var/www",
    ]);
    expect(normalizePaths(["/a b/-rf", "/a b/$(x)"])).toEqual(["/a b/$(x)", "/a b/-rf"]);
    for (const bad of ["relative", "/a/../b", "/a/./b", "/", "///", "/a\nb"])
      expect(() => normalizePaths([bad]), bad).toThrow(AppError);
  });
});

describe("findArgs", () => {
  it("turns patterns into a prune expression; every value is its own argument", () => {
    expect(
      findArgs({
        paths: ["/var/www", "/srv"],
        excludes: ["*.log", "/var/www/cache/", "tmp/x", "-delete", " "],
        allList: "a.list",
        regularList: "r.list",
      }),
    ).toEqual([
      "find",
      "files/var/www",
      "files/srv",
      "(",
      "-samefile",
      ".",
      "-o",
      "-name",
      "*.log",
      "-o",
      "-path",
      "files/var/www/cache",
      "-o",
      "-path",
      "*/tmp/x",
      "-o",
      "-name",
      "-delete",
      ")",
      "-prune",
      "-o",
      "-fprint0",
      "a.list",
      "-type",
      "f",
      "-fprint0",
      "r.list",
    ]);
  });
});

describe("output parsers", () => {
  it("reads sha256sum -z and stat output, names with any character", () => {
    const h = "a".repeat(64);
    expect(parseSha256Output(`${h}  files/a b\0${h} *files/new\nline\0`)).toEqual(
      new Map([
        ["files/a b", h],
        ["files/new\nline", h],
      ]),
    );
    expect(parseStatOutput("12 files/a b\x000 files/x y z\x00")).toEqual(
      new Map([
        ["files/a b", 12],
        ["files/x y z", 0],
      ]),
    );
    expect(() => parseSha256Output("garbage\0")).toThrow(AppError);
    expect(() => parseStatOutput("x y\0")).toThrow(AppError);
  });
});

describe("checkBackupId", () => {
  it("allows only file-name-safe ids", () => {
    expect(() => checkBackupId("bk_01HZX-a")).not.toThrow();
    for (const bad of ["", "a/b", "../x", "a b", "$(x)", "x".repeat(65)])
      expect(() => checkBackupId(bad), bad).toThrow(AppError);
  });
});

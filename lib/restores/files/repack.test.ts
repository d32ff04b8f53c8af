import { Readable } from "node:stream";
import * as tarStream from "tar-stream";
import { describe, expect, it } from "vitest";
import { repackHeader } from "./repack";

describe("repackHeader", () => {
  const at = new Date("2024-05-06T07:08:09Z");
  it("keeps mode, times and owners; takes the checked name; drops everything else of the original", () => {
    const h = repackHeader(
      {
        name: "files/srv/a",
        type: "file",
        size: 5,
        mode: 0o104755,
        mtime: at,
        uid: 1000,
        gid: 100,
        uname: "alice",
        gname: "users",
        devmajor: 3,
        pax: { path: "../../evil", linkpath: "/etc", "SCHILY.xattr.user.x": "1" },
      },
      { name: "srv/a", type: "file" },
    );
    expect(h).toEqual({
      name: "srv/a",
      type: "file",
      size: 5,
      mode: 0o4755,
      mtime: at,
      uid: 1000,
      gid: 100,
      uname: "alice",
      gname: "users",
    });
  });

  it("uses authoritative pax values and carries those the ustar header cannot hold", () => {
    const h = repackHeader(
      {
        name: "x",
        type: "file",
        size: 1,
        mode: 0o600,
        mtime: new Date(0),
        uid: 0,
        gid: 0,
        uname: "",
        gname: "",
        pax: {
          mtime: "1700000000.123456789",
          uid: "4000000",
          gid: "5",
          uname: "jürgen",
          gname: "a-very-long-group-name-that-is-over-32",
        },
      },
      { name: "srv/x", type: "file" },
    );
    expect(h.pax).toEqual({
      mtime: "1700000000.123456789",
      uid: "4000000",
      uname: "jürgen",
      gname: "a-very-long-group-name-that-is-over-32",
    });
    expect(h.mtime).toEqual(new Date(1700000000 * 1000));
    expect(h.gid).toBe(5);
    expect(h.uname).toBe("");
  });

  it("gives links no size and the checked link name", () => {
    expect(
      repackHeader(
        { name: "files/srv/b", type: "link", size: 9, linkname: "files/srv/a", mode: 0o644, mtime: at },
        { name: "srv/b", type: "link", linkname: "srv/a" },
      ),
    ).toMatchObject({ size: 0, linkname: "srv/a" });
    expect(
      repackHeader(
        { name: "files/srv/l", type: "symlink", linkname: "a", mode: 0o777, mtime: at },
        { name: "srv/l", type: "symlink", linkname: "a" },
      ),
    ).toMatchObject({ size: 0, linkname: "a", mode: 0o777 });
  });

  it("survives a round trip through tar-stream with long and non-ASCII names", async () => {
    const long = `srv/${"d".repeat(120)}/${"ü".repeat(60)}.txt`;
    const pack = tarStream.pack();
    pack.entry(
      repackHeader(
        { name: "x", type: "file", size: 3, mode: 0o640, mtime: at, uid: 7, gid: 8, pax: { uid: "3000000" } },
        { name: long, type: "file" },
      ),
      "abc",
    );
    pack.entry(
      repackHeader(
        { name: "y", type: "symlink", mode: 0o777, mtime: at },
        { name: "srv/l", type: "symlink", linkname: `${"t".repeat(150)}` },
      ),
    );
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const extract = tarStream.extract();
    Readable.from([Buffer.concat(chunks)]).pipe(extract);
    const seen: { name: string; linkname: string | null; mode: number; uid?: string }[] = [];
    for await (const entry of extract) {
      seen.push({
        name: entry.header.name,
        linkname: entry.header.linkname,
        mode: entry.header.mode,
        uid: (entry.header.pax as Record<string, string> | null)?.uid,
      });
      entry.resume();
    }
    expect(seen).toEqual([
      { name: long, linkname: null, mode: 0o640, uid: "3000000" },
      { name: "srv/l", linkname: "t".repeat(150), mode: 0o777, uid: undefined },
    ]);
  });
});

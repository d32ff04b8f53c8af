import { describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { normalizeMembers, RestoreEntryChecker, type EntryHeader } from "./entry-checker";

type H = EntryHeader;
const file = (name: string, extra: Partial<H> = {}): H => ({ name, type: "file", ...extra });
const dir = (name: string): H => ({ name, type: "directory" });
const sym = (name: string, linkname: string): H => ({ name, type: "symlink", linkname });
const hard = (name: string, linkname: string): H => ({ name, type: "link", linkname });

/** Feeds headers in order; returns the re-packed names (null = skipped). Throws like the checker. */
function run(headers: H[], members = ["files/srv"]) {
  const checker = new RestoreEntryChecker(members);
  return headers.map((h) => checker.check(h));
}

/** The refusal message for the archive (and which entry failed). */
function refusal(headers: H[], members = ["files/srv"]): string {
  const checker = new RestoreEntryChecker(members);
  for (const h of headers) {
    try {
      checker.check(h);
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe("VALIDATION");
      return (error as AppError).message;
    }
  }
  throw new Error("expected the archive to be refused");
}

describe("members", () => {
  it("normalises prefixes under files/", () => {
    expect(normalizeMembers(["files/var/www", "./files//srv/", "files/"])).toEqual([
      ["files", "var", "www"],
      ["files", "srv"],
      ["files"],
    ]);
  });
  it.each([[[]], [["postgres/x.sql"]], [["/files/var"]], [["files/../etc"]], [["manifest.json"]], [["files/a\0b"]]])(
    "refuses %j",
    (members) => {
      expect(() => normalizeMembers(members)).toThrow(AppError);
    },
  );
});

describe("RestoreEntryChecker: names and selection", () => {
  it("strips files/, keeps the original path, skips what is not chosen", () => {
    expect(
      run([
        file("manifest.json"),
        file("postgres/shop.sql"),
        dir("files/srv/"),
        dir("files/srv/app/"),
        file("files/srv/app/index.html"),
        file("files/srvx/other"),
        file("files/var/www/a"),
      ]),
    ).toEqual([
      null,
      null,
      { name: "srv", type: "directory" },
      { name: "srv/app", type: "directory" },
      { name: "srv/app/index.html", type: "file" },
      null,
      null,
    ]);
  });

  it("normalises ./ prefixes, repeated slashes and . parts of uploaded archives", () => {
    expect(run([file("./files/srv/./a//b.txt"), dir("./files/srv/c/")])).toEqual([
      { name: "srv/a/b.txt", type: "file" },
      { name: "srv/c", type: "directory" },
    ]);
  });

  it("restores several members, and everything with files/; the root entry itself is skipped", () => {
    expect(
      run(
        [dir("files/"), file("files/srv/a"), file("files/etc/b"), file("files/tmp/c")],
        ["files/srv", "files/etc"],
      ).map((e) => e?.name ?? null),
    ).toEqual([null, "srv/a", "etc/b", null]);
    expect(run([dir("files/"), dir("./files"), file("files/x/y")], ["files"]).map((e) => e?.name ?? null)).toEqual([
      null,
      null,
      "x/y",
    ]);
    expect(refusal([file("files")], ["files"])).toMatch(/replace the restore folder itself/);
  });

  it("accepts names longer than 100 characters (GNU long names, pax paths) unchanged", () => {
    const long = `files/srv/${"d".repeat(120)}/${"é".repeat(80)}/${"f".repeat(150)}.txt`;
    expect(run([file(long)])[0]).toEqual({ name: long.slice(6), type: "file" });
  });

  it.each([
    ["an absolute name", file("/files/srv/a"), /absolute name/],
    ["an absolute name outside the chosen folders too", file("/etc/passwd"), /absolute name/],
    ["a .. component", file("files/srv/../../etc/passwd"), /"\.\." in its name/],
    ["a .. component outside the chosen folders too", file("postgres/../../x"), /"\.\." in its name/],
    ["a trailing ..", dir("files/srv/.."), /"\.\." in its name/],
    ["an empty name", file(""), /empty name/],
    ["a NUL", file("files/srv/a\0b"), /NUL/],
    ["invalid UTF-8", file("files/srv/caf\uFFFD"), /not valid UTF-8/],
  ])("refuses %s", (_what, header, message) => {
    expect(refusal([header])).toMatch(message);
  });

  it("names the entry in the message", () => {
    expect(refusal([dir("files/srv/"), file("files/srv/../../../../etc/shadow")])).toContain(
      '"files/srv/../../../../etc/shadow"',
    );
  });
});

describe("RestoreEntryChecker: entry types", () => {
  it("refuses an entry of a type it does not know", () => {
    expect(refusal([{ name: "files/srv/x", type: null }])).toMatch(/type Coffer does not know/);
  });

  it("leaves out FIFOs and devices, counting them, and restores the rest", () => {
    const checker = new RestoreEntryChecker(["files/srv"]);
    const types = ["fifo", "character-device", "block-device", "fifo", "fifo", "fifo"] as const;
    const out = [...types.map((type, i) => ({ name: `files/srv/p${i}`, type })), file("files/srv/a")].map((h) =>
      checker.check(h),
    );
    expect(out).toEqual([null, null, null, null, null, null, { name: "srv/a", type: "file" }]);
    expect(checker.leftOutCount).toBe(6);
    expect(checker.leftOut).toEqual([
      '"files/srv/p0"',
      '"files/srv/p1"',
      '"files/srv/p2"',
      '"files/srv/p3"',
      '"files/srv/p4"',
    ]);
  });

  it("leaves out a second name of a FIFO (a hard link to it), and shows names as it shows them elsewhere", () => {
    const checker = new RestoreEntryChecker(["files/srv"]);
    expect(
      [
        { name: "files/srv/p\nq", type: "fifo" } as H,
        hard("files/srv/again", "files/srv/p\nq"),
        file("files/srv/a"),
      ].map((h) => checker.check(h)),
    ).toEqual([null, null, { name: "srv/a", type: "file" }]);
    expect(checker.leftOut).toEqual(['"files/srv/p\\nq"', '"files/srv/again"']);
  });

  it("ignores devices outside the chosen folders", () => {
    expect(run([{ name: "files/dev/null", type: "character-device" }, file("files/srv/a")])[1]).toEqual({
      name: "srv/a",
      type: "file",
    });
  });

  it("treats a contiguous file as a file", () => {
    expect(run([{ name: "files/srv/a", type: "contiguous-file" }])[0]).toEqual({ name: "srv/a", type: "file" });
  });

  it("refuses GNU sparse files stored as pax", () => {
    expect(
      refusal([
        file("files/srv/GNUSparseFile.12/big", {
          pax: { "GNU.sparse.major": "1", "GNU.sparse.name": "files/srv/big" },
        }),
      ]),
    ).toMatch(/sparse/);
  });

  it("refuses a path that changes type", () => {
    expect(refusal([dir("files/srv/a"), file("files/srv/a")])).toMatch(
      /is a file, but the archive made "srv\/a" a folder/,
    );
    expect(refusal([file("files/srv/a"), dir("files/srv/a")])).toMatch(/is a folder/);
    expect(refusal([file("files/srv/a/b"), file("files/srv/a")])).toMatch(/made "srv\/a" a folder/);
    expect(refusal([file("files/srv/a"), file("files/srv/a/b")])).toMatch(
      /inside "srv\/a", which the archive made a file/,
    );
    expect(refusal([dir("files/srv/a"), sym("files/srv/a", "b")])).toMatch(
      /is a symbolic link, but the archive made "srv\/a" a folder/,
    );
  });

  it("allows repeated files and folders, and a symbolic link repeated with the same target only", () => {
    expect(
      run([
        file("files/srv/a"),
        file("files/srv/a"),
        dir("files/srv/d"),
        dir("files/srv/d"),
        sym("files/srv/l", "a"),
        sym("files/srv/l", "a"),
      ]).every(Boolean),
    ).toBe(true);
    expect(refusal([sym("files/srv/l", "a"), sym("files/srv/l", "d")])).toMatch(/symbolic link to another place/);
  });
});

describe("RestoreEntryChecker: symbolic links", () => {
  it("accepts links that stay inside the restore folder, also above the chosen folder", () => {
    expect(
      run([
        dir("files/srv/app"),
        sym("files/srv/app/current", "releases/42"),
        sym("files/srv/app/up", "../app/./current"),
        sym("files/srv/top", ".."),
        sym("files/srv/dangling", "nowhere/at/all"),
        sym("files/srv/dot", "."),
      ]),
    ).toEqual([
      { name: "srv/app", type: "directory" },
      { name: "srv/app/current", type: "symlink", linkname: "releases/42" },
      { name: "srv/app/up", type: "symlink", linkname: "../app/./current" },
      { name: "srv/top", type: "symlink", linkname: ".." },
      { name: "srv/dangling", type: "symlink", linkname: "nowhere/at/all" },
      { name: "srv/dot", type: "symlink", linkname: "." },
    ]);
  });

  it.each([
    ["absolute", sym("files/srv/l", "/etc"), /absolute path "\/etc"/],
    ["absolute root", sym("files/srv/l", "/"), /absolute path/],
    ["leaving the root", sym("files/srv/l", "../.."), /leads outside the restored folder/],
    ["leaving the root deep inside", sym("files/srv/a/b/l", "../../../../x"), /leads outside/],
    ["leaving and coming back", sym("files/srv/l", "../../srv"), /leads outside/],
    ["empty", sym("files/srv/l", ""), /without a target/],
    ["invalid UTF-8", sym("files/srv/l", "caf\uFFFD"), /not valid UTF-8/],
  ])("refuses a link %s", (_what, header, message) => {
    expect(refusal([header])).toMatch(message);
  });

  it("restored in place (to /), takes absolute targets as they were, resolved from the restore folder", () => {
    const inPlace = (headers: H[]) => {
      const checker = new RestoreEntryChecker(["files/etc"], { inPlace: true });
      return headers.map((h) => checker.check(h));
    };
    expect(
      inPlace([
        sym("files/etc/localtime", "/usr/share/zoneinfo/UTC"),
        sym("files/etc/alternatives/editor", "/bin/nano"),
        sym("files/etc/root", "/"),
      ]),
    ).toEqual([
      { name: "etc/localtime", type: "symlink", linkname: "/usr/share/zoneinfo/UTC" },
      { name: "etc/alternatives/editor", type: "symlink", linkname: "/bin/nano" },
      { name: "etc/root", type: "symlink", linkname: "/" },
    ]);
    // The rules about links still hold: nothing is written through one, and `..` never leaves.
    expect(() => inPlace([sym("files/etc/l", "/.."), file("files/etc/x")])).toThrow(/leads outside/);
    expect(() => inPlace([sym("files/etc/d", "/etc"), file("files/etc/d/x")])).toThrow(AppError);
    // An absolute target through a link the archive made resolves from the root, not the link's folder.
    expect(() => inPlace([sym("files/etc/usr", "/usr"), sym("files/etc/l", "usr/../..")])).toThrow(/leads outside/);
    // Anywhere else it would lead out of the restored folder, and says what to do.
    expect(refusal([sym("files/srv/l", "/etc")])).toMatch(/Restore to \/ \(with Overwrite\) to put such links back/);
  });

  it("resolves through links the archive created: `..` after a link goes up from where it leads", () => {
    // deep -> a/b/c ; then deep/../../.. is a/b/c/../../.. = srv's parent = root: fine
    expect(run([sym("files/srv/deep", "a/b/c"), sym("files/srv/ok", "deep/../../..")])[1]).toEqual({
      name: "srv/ok",
      type: "symlink",
      linkname: "deep/../../..",
    });
    // lexically `up/..` is srv, but up -> .. so up/.. is the root's parent
    expect(refusal([sym("files/srv/up", ".."), sym("files/srv/l", "up/../x")])).toMatch(
      /"files\/srv\/l".*leads outside/,
    );
    // through a chain of links
    expect(refusal([sym("files/srv/a", "b"), sym("files/srv/b", ".."), sym("files/srv/l", "a/../x")])).toMatch(
      /leads outside/,
    );
  });

  it("refuses the chain x -> . then l -> x/x/x/../../..", () => {
    expect(refusal([sym("files/x", "."), sym("files/l", "x/x/x/../../..")], ["files"])).toMatch(
      /"files\/l" is a symbolic link to "x\/x\/x\/..\/..\/..", which leads outside/,
    );
  });

  it("refuses the chain l -> x/x/x/../../.. then x -> . (a link created where an earlier link's target passes)", () => {
    const message = refusal([sym("files/l", "x/x/x/../../.."), sym("files/x", ".")], ["files"]);
    expect(message).toMatch(
      /"files\/x" is a symbolic link at a path the earlier symbolic link "files\/l" goes through/,
    );
  });

  it("the chain inside a chosen folder, both orders", () => {
    expect(refusal([sym("files/srv/x", "."), sym("files/srv/l", "x/x/x/../../../..")])).toMatch(/leads outside/);
    expect(refusal([sym("files/srv/l", "x/x/x/../../../.."), sym("files/srv/x", ".")])).toMatch(
      /earlier symbolic link "files\/srv\/l"/,
    );
    // without the link x, l stays inside: lexically x/x/x/../../../.. is srv/.. = the root
    expect(run([sym("files/srv/l", "x/x/x/../../../..")])[0]).toBeTruthy();
  });

  it("a folder or file may still be created where a link's target passes", () => {
    expect(
      run([sym("files/srv/l", "x/y/../z"), dir("files/srv/x"), dir("files/srv/x/y"), file("files/srv/x/z")]).every(
        Boolean,
      ),
    ).toBe(true);
  });

  it("does not block ordinary chains of links (lib.so -> lib.so.1 -> lib.so.1.2, any order)", () => {
    expect(
      run([
        sym("files/srv/lib.so", "lib.so.1"),
        sym("files/srv/lib.so.1", "lib.so.1.2"),
        file("files/srv/lib.so.1.2"),
      ]).every(Boolean),
    ).toBe(true);
    expect(
      run([
        file("files/srv/lib.so.1.2"),
        sym("files/srv/lib.so.1", "lib.so.1.2"),
        sym("files/srv/lib.so", "lib.so.1"),
      ]).every(Boolean),
    ).toBe(true);
  });

  it("refuses a link that passes through itself, and loops of links", () => {
    expect(refusal([sym("files/srv/l", "l/..")])).toMatch(/goes through the link itself/);
    expect(refusal([sym("files/srv/a", "b"), sym("files/srv/b", "a"), sym("files/srv/l", "a/x")])).toMatch(
      /too many symbolic links/,
    );
  });

  it("refuses writing through a link the archive created", () => {
    expect(refusal([sym("files/srv/l", "d"), dir("files/srv/d"), file("files/srv/l/evil")])).toMatch(
      /"files\/srv\/l\/evil" is inside "srv\/l", a symbolic link the archive created earlier/,
    );
    expect(refusal([sym("files/srv/l", "."), dir("files/srv/l/sub")])).toMatch(/inside "srv\/l"/);
    expect(refusal([sym("files/srv/l", "x"), sym("files/srv/l/m", "y")])).toMatch(/inside "srv\/l"/);
    expect(refusal([sym("files/srv/l", "x"), hard("files/srv/l/h", "files/srv/a")])).toMatch(/inside "srv\/l"/);
    // a link that is itself the chosen folder
    expect(refusal([sym("files/srv", "elsewhere"), file("files/srv/a")])).toMatch(/inside "srv"/);
  });
});

describe("RestoreEntryChecker: hard links", () => {
  it("accepts a hard link to a regular file restored earlier, renamed like it", () => {
    expect(
      run([file("files/srv/a"), hard("files/srv/b", "files/srv/a"), hard("files/srv/c", "./files/srv//b")]),
    ).toEqual([
      { name: "srv/a", type: "file" },
      { name: "srv/b", type: "link", linkname: "srv/a" },
      { name: "srv/c", type: "link", linkname: "srv/b" },
    ]);
  });

  it("accepts a target in another chosen folder", () => {
    expect(run([file("files/etc/a"), hard("files/srv/b", "files/etc/a")], ["files/srv", "files/etc"])[1]).toEqual({
      name: "srv/b",
      type: "link",
      linkname: "etc/a",
    });
  });

  it.each([
    ["not seen yet", [hard("files/srv/b", "files/srv/a"), file("files/srv/a")], /does not come before it/],
    ["outside the chosen folders", [hard("files/srv/b", "files/etc/passwd")], /not among the restored files/],
    [
      "to a skipped member",
      [file("files/etc/passwd"), hard("files/srv/b", "files/etc/passwd")],
      /not among the restored files/,
    ],
    [
      "absolute",
      [hard("files/srv/b", "/etc/passwd")],
      /"files\/srv\/b" has an absolute hard link target "\/etc\/passwd"/,
    ],
    [
      "with ..",
      [file("files/srv/a"), hard("files/srv/b", "files/srv/../srv/a")],
      /"files\/srv\/b" has "\.\." in its hard link target "files\/srv\/..\/srv\/a"/,
    ],
    ["to a folder", [dir("files/srv/d"), hard("files/srv/b", "files/srv/d")], /is a folder/],
    ["to a symbolic link", [sym("files/srv/s", "a"), hard("files/srv/b", "files/srv/s")], /is a symbolic link/],
    ["to itself", [file("files/srv/b"), hard("files/srv/b", "files/srv/b")], /to itself/],
    ["without a target", [hard("files/srv/b", "")], /without a target/],
    ["to the archive root", [hard("files/srv/b", "files")], /not among the restored files/],
    ["to the manifest", [hard("files/srv/b", "manifest.json")], /not among the restored files/],
  ])("refuses a hard link %s", (_what, headers, message) => {
    expect(refusal(headers)).toMatch(message);
  });
});

describe("RestoreEntryChecker: implied folders", () => {
  it("lists folders only created as parents, parents first", () => {
    const checker = new RestoreEntryChecker(["files/home/alice/docs", "files/srv"]);
    for (const h of [
      dir("files/home/alice/docs"),
      file("files/home/alice/docs/a"),
      file("files/srv/x/y/z"),
      dir("files/srv/x"),
    ])
      checker.check(h);
    expect(checker.implicitDirectories()).toEqual(["home", "srv", "home/alice", "srv/x/y"]);
  });
});

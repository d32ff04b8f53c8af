import "server-only";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import * as tarStream from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { connectSsh, localReach, type Reach, type SshConnection } from "@/lib/reach";
import { waitUntilGone } from "@/test/processes";
import { startSshd, type TestSshd } from "@/test/servers/sshd";
import { restoreDirectory, type DirectoryRestoreJob } from ".";

let sshd: TestSshd;
let ssh: SshConnection;
let local: Reach;
let root: string;

const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const PAST = new Date("2021-03-04T05:06:07Z");

/**
 * Every path under `dir` ("." for dir itself): type, mode, owner, mtime (seconds), SHA-256 of
 * file contents, symlink targets, and which names share an inode (hard links).
 */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string[]>();
  const visit = (rel: string) => {
    const abs = rel === "." ? dir : path.join(dir, rel);
    const st = lstatSync(abs);
    const mode = (st.mode & 0o7777).toString(8);
    const owner = `${st.uid}:${st.gid}`;
    const mtime = Math.floor(st.mtimeMs / 1000);
    if (st.isSymbolicLink()) out[rel] = `symlink -> ${readlinkSync(abs)}`;
    else if (st.isDirectory()) {
      out[rel] = `dir ${mode} ${owner} ${mtime}`;
      for (const name of readdirSync(abs).sort()) visit(rel === "." ? name : `${rel}/${name}`);
    } else if (st.isFile()) {
      out[rel] = `file ${mode} ${owner} ${mtime} ${st.size} ${sha(abs)}`;
      if (st.nlink > 1) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), rel]);
    } else out[rel] = "other";
  };
  visit(".");
  for (const names of inodes.values()) for (const n of names) out[n] += ` links=${names.sort().join(",")}`;
  return out;
}

/** The snapshot without `dir` itself (creating and removing something inside a folder changes its mtime). */
function contents(dir: string): Record<string, string> {
  const { ".": _self, ...rest } = snapshot(dir);
  return rest;
}

/** Folders named like the private staging folder, anywhere under `dir`. */
function stagingLeftovers(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return execFileSync("find", [dir, "-name", ".coffer-restore-*"]).toString().split("\n").filter(Boolean);
}

/** 64 KiB chunks, so the restore really streams. */
function chunked(buf: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += 65536) parts.push(buf.subarray(i, i + 65536));
  return Readable.from(parts, { objectMode: false });
}

interface Crafted {
  header: Partial<tarStream.Header> & { name: string };
  body?: string | Buffer;
}
const f = (name: string, body = "ok\n"): Crafted => ({
  header: { name, type: "file", mode: 0o644, mtime: PAST },
  body,
});
const d = (name: string): Crafted => ({ header: { name, type: "directory", mode: 0o755, mtime: PAST } });
const l = (name: string, linkname: string): Crafted => ({
  header: { name, type: "symlink", linkname, mode: 0o777, mtime: PAST },
});
const h = (name: string, linkname: string): Crafted => ({
  header: { name, type: "link", linkname, mode: 0o644, mtime: PAST },
});

/** A tar built with tar-stream's pack(), entry by entry, names exactly as given. */
async function craft(entries: Crafted[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const collected = (async () => {
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  })();
  for (const e of entries)
    await new Promise<void>((res, rej) => pack.entry({ ...e.header }, e.body ?? "", (err) => (err ? rej(err) : res())));
  pack.finalize();
  return collected;
}

/** A tar of absolute `paths` as Coffer's backups make it: GNU format, members `files/<path>`. */
function gnuArchive(paths: string[], format: "gnu" | "pax" = "gnu"): Buffer {
  const priv = mkdtempSync(path.join(root, "priv-"));
  symlinkSync("/", path.join(priv, "files"));
  return execFileSync(
    "tar",
    ["--create", "--file=-", `--format=${format}`, "-C", priv, ...paths.map((p) => `files${p}`)],
    { maxBuffer: 256 * 1024 * 1024 },
  );
}

async function failure(p: Promise<unknown>): Promise<AppError> {
  const error = await p.then(
    () => {
      throw new Error("expected the restore to fail");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

/** A source tree with nested folders, modes, owners, a symlink, a hard link, long and non-ASCII names; all times in the past. */
function makeSource(): { src: string; files: number; bytes: number } {
  const src = path.join(mkdtempSync(path.join(root, "src-")), "site");
  const long = "l".repeat(120);
  mkdirSync(path.join(src, "releases", "v1", "assets"), { recursive: true });
  mkdirSync(path.join(src, long, "deeper"), { recursive: true });
  mkdirSync(path.join(src, "private"), { mode: 0o750 });
  writeFileSync(path.join(src, "index.html"), "<h1>hello</h1>\n");
  writeFileSync(path.join(src, "releases", "v1", "app.js"), "console.log(1)\n");
  writeFileSync(path.join(src, "releases", "v1", "assets", "big.bin"), randomBytes(3 * 1024 * 1024 + 17));
  writeFileSync(path.join(src, "releases", "v1", "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
  writeFileSync(path.join(src, "private", "secret.env"), "KEY=1\n", { mode: 0o600 });
  writeFileSync(path.join(src, "c d é.txt"), "unicode\n");
  writeFileSync(path.join(src, long, "deeper", `${"n".repeat(150)}.txt`), "long name\n");
  writeFileSync(path.join(src, "owned.txt"), "owned\n");
  chownSync(path.join(src, "owned.txt"), 1234, 5678);
  chmodSync(path.join(src, "private"), 0o750);
  chmodSync(path.join(src, "releases"), 0o2775);
  linkSync(path.join(src, "index.html"), path.join(src, "index-hardlink.html"));
  symlinkSync("releases/v1", path.join(src, "current"));
  // Fixed times, deepest first so parents keep theirs.
  const all = execFileSync("find", [src, "-depth"]).toString().split("\n").filter(Boolean);
  for (const p of all) if (!lstatSync(p).isSymbolicLink()) utimesSync(p, PAST, PAST);
  const files = 9; // 8 regular files + 1 hard link
  const bytes =
    all.filter((p) => lstatSync(p).isFile()).reduce((n, p) => n + lstatSync(p).size, 0) -
    lstatSync(path.join(src, "index.html")).size;
  return { src, files, bytes };
}

// Runs in the "int" project only (vitest.config.mts keeps lib/restores out of int-pglite): it needs
// no app database.
describe("directory restores", () => {
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), "coffer-restore-"));
    sshd = await startSshd();
    ssh = await connectSsh({
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKey: sshd.privateKey,
      allowPrivateNetworks: true,
      connectTimeoutMs: 10_000,
    });
    local = localReach();
  }, 120_000);

  afterAll(async () => {
    await ssh?.reach.close();
    await local?.close();
    await sshd?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const reaches: [string, () => Reach][] = [
    ["local", () => local],
    ["ssh", () => ssh.reach],
  ];

  describe.each(reaches)("over %s", (_name, getReach) => {
    const job = (
      tar: Buffer | Readable,
      target: string,
      mode: "fresh" | "overwrite",
      members: string[],
      extra: Partial<DirectoryRestoreJob> = {},
    ): DirectoryRestoreJob => ({
      reach: getReach(),
      serverName: "test-server",
      tar: Buffer.isBuffer(tar) ? chunked(tar) : tar,
      members,
      target,
      mode,
      restoreId: `r_${randomBytes(4).toString("hex")}`,
      ...extra,
    });

    it("fresh: a GNU tar backup restores exactly (nested folders, modes, owners, times, symlink, hard link, long and non-ASCII names), parents created", async () => {
      const { src, files, bytes } = makeSource();
      const target = path.join(mkdtempSync(path.join(root, "t-")), "new", "deeper");
      const steps: string[] = [];
      let consumed = 0;
      const archive = gnuArchive([src]);
      const result = await restoreDirectory(
        job(archive, target, "fresh", [`files${src}`], {
          onStep: (s) => steps.push(s),
          onBytes: (n) => (consumed = n),
        }),
      );

      expect(result).toEqual({ files, bytes });
      expect(consumed).toBe(archive.length);
      const restored = path.join(target, src);
      const want = snapshot(src);
      expect(snapshot(restored)).toEqual(want);
      // The snapshot really holds what this test is about.
      expect(want["owned.txt"]).toMatch(/^file 644 1234:5678 /);
      expect(want["private"]).toMatch(/^dir 750 /);
      expect(want["releases"]).toMatch(/^dir 2775 /);
      expect(want["current"]).toBe("symlink -> releases/v1");
      expect(want["index.html"]).toMatch(/links=index-hardlink.html,index.html$/);
      expect(Object.keys(want).some((k) => k.length > 250)).toBe(true);
      expect(steps.join("\n")).toMatch(/Restored 9 files/);
      expect(stagingLeftovers(target)).toEqual([]);
    });

    it("fresh: a pax archive restores exactly too, and only the chosen folder of it", async () => {
      const { src } = makeSource();
      const other = mkdtempSync(path.join(root, "other-"));
      writeFileSync(path.join(other, "not-chosen.txt"), "x");
      const target = path.join(mkdtempSync(path.join(root, "t-")), "out");
      await restoreDirectory(job(gnuArchive([other, src], "pax"), target, "fresh", [`files${src}`]));
      expect(snapshot(path.join(target, src))).toEqual(snapshot(src));
      expect(existsSync(path.join(target, other))).toBe(false);
    });

    it("fresh: refuses an existing non-empty folder and leaves it alone; an empty one is fine", async () => {
      const parent = mkdtempSync(path.join(root, "t-"));
      const target = path.join(parent, "busy");
      mkdirSync(target);
      writeFileSync(path.join(target, "mine.txt"), "mine");
      const before = snapshot(parent);
      const error = await failure(
        restoreDirectory(job(await craft([f("files/srv/a.txt")]), target, "fresh", ["files/srv"])),
      );
      expect(error.code).toBe("VALIDATION");
      expect(error.message).toMatch(/already exists and is not empty: choose a new folder or use overwrite/);
      expect(snapshot(parent)).toEqual(before);

      const empty = path.join(parent, "empty");
      mkdirSync(empty);
      expect(
        await restoreDirectory(
          job(await craft([d("files/srv/"), f("files/srv/a.txt", "A")]), empty, "fresh", ["files/srv"]),
        ),
      ).toEqual({ files: 1, bytes: 1 });
      expect(readFileSync(path.join(empty, "srv", "a.txt"), "utf8")).toBe("A");
    });

    it("overwrite: replaces changed files, adds new ones, keeps unrelated files and the target's and parents' own attributes", async () => {
      const { src } = makeSource();
      const target = mkdtempSync(path.join(root, "t-"));
      const rel = src.slice(1);
      const restored = path.join(target, rel);
      mkdirSync(path.join(restored, "releases"), { recursive: true });
      writeFileSync(path.join(restored, "index.html"), "changed since the backup\n");
      writeFileSync(path.join(restored, "unrelated.txt"), "keep me\n");
      symlinkSync("somewhere-else", path.join(restored, "current")); // a link the backup has, pointing elsewhere now
      mkdirSync(path.join(target, "other"));
      writeFileSync(path.join(target, "other", "x.txt"), "x\n");
      const top = rel.split("/")[0]!; // "tmp": a folder the archive only implies
      chmodSync(path.join(target, top), 0o711);
      chmodSync(target, 0o750);
      utimesSync(path.join(target, top), PAST, PAST);
      utimesSync(target, PAST, PAST);
      const before = snapshot(target);

      await restoreDirectory(job(gnuArchive([src]), target, "overwrite", [`files${src}`]));

      const after = snapshot(target);
      const { "unrelated.txt": unrelated, ...got } = snapshot(restored);
      expect(got).toEqual(snapshot(src));
      expect(unrelated).toBe(before[`${rel}/unrelated.txt`]);
      expect(after["other/x.txt"]).toBe(before["other/x.txt"]);
      expect(after[top]).toBe(before[top]);
      expect(after["."]).toBe(before["."]);
      expect(stagingLeftovers(target)).toEqual([]);
    });

    it("overwrite: a folder in the backup that meets a symbolic link in the target is refused before anything is copied", async () => {
      const sentinel = mkdtempSync(path.join(root, "s-"));
      const outside = path.join(sentinel, "outside");
      mkdirSync(outside);
      const target = path.join(sentinel, "target");
      mkdirSync(path.join(target, "srv"), { recursive: true });
      writeFileSync(path.join(target, "srv", "a.txt"), "old\n");
      symlinkSync("../../outside", path.join(target, "srv", "app"));
      const before = snapshot(sentinel);
      const error = await failure(
        restoreDirectory(
          job(
            await craft([
              d("files/srv/"),
              f("files/srv/a.txt", "new\n"),
              d("files/srv/app/"),
              f("files/srv/app/evil", "x"),
            ]),
            target,
            "overwrite",
            ["files/srv"],
          ),
        ),
      );
      expect(error.code).toBe("VALIDATION");
      expect(error.message).toMatch(/"srv\/app" is a symbolic link or a file where the backup has a folder/);
      expect(snapshot(sentinel)).toEqual(before);
    });

    it("overwrite: a file in the backup replaces a symbolic link (or hard link) in the target, never writing through it", async () => {
      const sentinel = mkdtempSync(path.join(root, "s-"));
      const outside = path.join(sentinel, "outside");
      mkdirSync(outside);
      writeFileSync(path.join(outside, "victim"), "victim\n");
      writeFileSync(path.join(outside, "twin"), "twin\n");
      const target = path.join(sentinel, "target");
      mkdirSync(path.join(target, "srv"), { recursive: true });
      symlinkSync("../../outside/victim", path.join(target, "srv", "a.txt"));
      linkSync(path.join(outside, "twin"), path.join(target, "srv", "b.txt"));
      const outsideBefore = snapshot(outside);
      await restoreDirectory(
        job(
          await craft([d("files/srv/"), f("files/srv/a.txt", "restored a\n"), f("files/srv/b.txt", "restored b\n")]),
          target,
          "overwrite",
          ["files/srv"],
        ),
      );
      expect(readFileSync(path.join(target, "srv", "a.txt"), "utf8")).toBe("restored a\n");
      expect(lstatSync(path.join(target, "srv", "a.txt")).isSymbolicLink()).toBe(false);
      expect(readFileSync(path.join(target, "srv", "b.txt"), "utf8")).toBe("restored b\n");
      expect(snapshot(outside)).toEqual({ ...outsideBefore, twin: outsideBefore.twin!.replace(/ links=.*/, "") });
    });

    it("leaves out a FIFO the backup holds, says so, and restores the rest", async () => {
      const site = mkdtempSync(path.join(root, "fifo-"));
      writeFileSync(path.join(site, "index.html"), "v1\n");
      execFileSync("mkfifo", [path.join(site, "app.pipe")]);
      const target = path.join(mkdtempSync(path.join(root, "t-")), "out");
      const steps: string[] = [];
      const result = await restoreDirectory(
        job(gnuArchive([site]), target, "fresh", [`files${site}`], { onStep: (m) => steps.push(m) }),
      );
      expect(result.files).toBe(1);
      expect(readFileSync(path.join(target, site, "index.html"), "utf8")).toBe("v1\n");
      expect(existsSync(path.join(target, site, "app.pipe"))).toBe(false);
      expect(steps).toContain(
        `Left out 1 FIFO or device file of the backup, which a restore never creates: "files${site}/app.pipe".`,
      );
    });

    it("overwrite to /: puts a folder back in place, its links to absolute paths too", async () => {
      const site = mkdtempSync(path.join(root, "in-place-"));
      writeFileSync(path.join(site, "index.html"), "v1\n");
      symlinkSync(path.join(site, "index.html"), path.join(site, "current"));
      const archive = gnuArchive([site]);
      writeFileSync(path.join(site, "index.html"), "v2\n");
      rmSync(path.join(site, "current"));
      await restoreDirectory(job(archive, "/", "overwrite", [`files${site}`]));
      expect(readFileSync(path.join(site, "index.html"), "utf8")).toBe("v1\n");
      expect(readlinkSync(path.join(site, "current"))).toBe(path.join(site, "index.html"));
      expect(readdirSync("/").filter((n) => n.startsWith(".coffer-restore-"))).toEqual([]);
    });

    it("overwrite: refuses a missing target; fresh: refuses a file as target", async () => {
      const parent = mkdtempSync(path.join(root, "t-"));
      const error = await failure(
        restoreDirectory(job(await craft([f("files/srv/a")]), path.join(parent, "nope"), "overwrite", ["files/srv"])),
      );
      expect(error.code).toBe("VALIDATION");
      expect(error.message).toMatch(/does not exist: overwrite restores into an existing folder/);
      writeFileSync(path.join(parent, "file"), "x");
      const error2 = await failure(
        restoreDirectory(job(await craft([f("files/srv/a")]), path.join(parent, "file"), "fresh", ["files/srv"])),
      );
      expect(error2.message).toMatch(/exists and is not a folder/);
      expect(readdirSync(parent)).toEqual(["file"]);
    });

    it("an archive with nothing under the chosen folders fails and leaves nothing", async () => {
      const parent = mkdtempSync(path.join(root, "t-"));
      const error = await failure(
        restoreDirectory(
          job(await craft([f("manifest.json", "{}"), f("files/etc/x")]), path.join(parent, "new"), "fresh", [
            "files/srv",
          ]),
        ),
      );
      expect(error.message).toMatch(/nothing under files\/srv/);
      expect(readdirSync(parent)).toEqual([]);
    });

    it("a failure of the server's tar is reported with its message, and what was created is removed", async () => {
      const parent = mkdtempSync(path.join(root, "t-"));
      // Accepted by the checker, refused by the file system (a name longer than 255 bytes).
      const archive = await craft([
        d("files/srv/"),
        f("files/srv/ok.txt"),
        f(`files/srv/${"n".repeat(300)}`),
        f("files/srv/after.txt"),
      ]);
      const error = await failure(restoreDirectory(job(archive, path.join(parent, "new"), "fresh", ["files/srv"])));
      expect(error.code).toBe("UPSTREAM");
      expect(error.message).toMatch(/Extracting on test-server failed \(tar exit 2\): .*File name too long/);
      expect(readdirSync(parent)).toEqual([]);

      const target = mkdtempSync(path.join(root, "t-"));
      writeFileSync(path.join(target, "keep.txt"), "keep\n");
      const before = snapshot(target);
      const error2 = await failure(restoreDirectory(job(archive, target, "overwrite", ["files/srv"])));
      expect(error2.message).toMatch(/File name too long/);
      expect(snapshot(target)).toEqual(before);
    });

    it("a damaged archive fails and leaves nothing", async () => {
      const parent = mkdtempSync(path.join(root, "t-"));
      const good = await craft([
        d("files/srv/"),
        f("files/srv/a", "x".repeat(5000)),
        f("files/srv/b", "y".repeat(5000)),
      ]);
      const error = await failure(
        restoreDirectory(job(good.subarray(0, 3000), path.join(parent, "new"), "fresh", ["files/srv"])),
      );
      expect(error.message).toMatch(/damaged or not a tar/);
      expect(readdirSync(parent)).toEqual([]);
    });

    // Each hostile archive starts with good entries (they reach the server's tar and must be removed
    // again), then the attack, then a file that would land outside if the attack had worked.
    const hostile: [string, (sentinel: string) => Crafted[], RegExp][] = [
      ["../", () => [d("files/srv/"), f("files/srv/ok.txt"), f("files/srv/../../evil")], /has "\.\." in its name/],
      ["an absolute path", (s) => [d("files/srv/"), f("files/srv/ok.txt"), f(`${s}/evil`)], /has an absolute name/],
      [
        "a symlink to an absolute path",
        (s) => [d("files/srv/"), f("files/srv/ok.txt"), l("files/srv/out", s), f("files/srv/out/evil")],
        /symbolic link to the absolute path/,
      ],
      [
        "a symlink leaving the folder",
        () => [d("files/srv/"), f("files/srv/ok.txt"), l("files/srv/out", "../.."), f("files/srv/out/evil")],
        /leads outside the restored folder/,
      ],
      [
        "writing through a symlink",
        () => [d("files/srv/"), d("files/srv/sub/"), l("files/srv/in", "sub"), f("files/srv/in/evil")],
        /inside "srv\/in", a symbolic link the archive created earlier/,
      ],
      [
        "the chain x -> . first",
        () => [
          d("files/srv/"),
          f("files/srv/ok.txt"),
          l("files/srv/x", "."),
          l("files/srv/out", "x/x/x/../../../.."),
          f("files/srv/out/evil"),
        ],
        /"files\/srv\/out" is a symbolic link to .* leads outside/,
      ],
      [
        "the chain l -> x/x/x/../../../.. first",
        () => [
          d("files/srv/"),
          f("files/srv/ok.txt"),
          l("files/srv/out", "x/x/x/../../../.."),
          l("files/srv/x", "."),
          f("files/srv/out/evil"),
        ],
        /"files\/srv\/x" is a symbolic link at a path the earlier symbolic link "files\/srv\/out" goes through/,
      ],
      [
        "a hard link to a file outside",
        (s) => [
          d("files/srv/"),
          f("files/srv/ok.txt"),
          h("files/srv/pw", `${s}/secret`),
          f("files/srv/pw", "overwritten"),
        ],
        /"files\/srv\/pw" has an absolute hard link target "\//,
      ],
    ];

    describe.each(["fresh", "overwrite"] as const)("%s mode refuses", (mode) => {
      it.each(hostile)(
        "%s: nothing appears outside the target, the target is as before, no staging folder is left",
        async (_what, entries, message) => {
          const sentinel = mkdtempSync(path.join(root, "s-"));
          writeFileSync(path.join(sentinel, "secret"), "secret\n");
          const target = path.join(sentinel, "target");
          if (mode === "overwrite") {
            mkdirSync(path.join(target, "srv"), { recursive: true });
            writeFileSync(path.join(target, "srv", "ok.txt"), "before\n");
            writeFileSync(path.join(target, "keep.txt"), "keep\n");
            utimesSync(target, PAST, PAST);
          }
          const before = contents(sentinel);
          const error = await restoreDirectory(job(await craft(entries(sentinel)), target, mode, ["files/srv"])).then(
            () => null,
            (e: unknown) => e as AppError,
          );
          // What matters most first: nothing written outside, the target as it was, nothing left behind.
          expect(contents(sentinel)).toEqual(before);
          expect(stagingLeftovers(sentinel)).toEqual([]);
          expect(error).toBeInstanceOf(AppError);
          expect(error!.code).toBe("VALIDATION");
          expect(error!.message).toMatch(message);
          expect(error!.message).toMatch(
            mode === "fresh"
              ? /Nothing was restored: what Coffer created in .* was removed/
              : /Nothing was restored: .* is unchanged/,
          );
        },
      );
    });

    describe.each(["fresh", "overwrite"] as const)("cancel in %s mode", (mode) => {
      it("mid-stream: the server's tar is killed, what was created is removed, the reason is the rejection", async () => {
        const sentinel = mkdtempSync(path.join(root, "c-"));
        const target = mode === "fresh" ? path.join(sentinel, "new", "deeper") : path.join(sentinel, "target");
        if (mode === "overwrite") {
          mkdirSync(target);
          writeFileSync(path.join(target, "keep.txt"), "keep\n");
        }
        const before = contents(sentinel);
        const controller = new AbortController();
        const reason = new AppError("CONFLICT", "cancelled by the test");
        let consumed = 0;
        const started = Date.now();
        const restore = restoreDirectory(
          job(slowArchive(), target, mode, ["files/srv"], {
            signal: controller.signal,
            onBytes: (n) => {
              consumed = n;
              if (n > 2 * 1024 * 1024 && !controller.signal.aborted) controller.abort(reason);
            },
          }),
        );
        const error = await restore.then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBe(reason);
        expect(consumed).toBeGreaterThan(2 * 1024 * 1024);
        expect(Date.now() - started).toBeLessThan(30_000);
        expect(
          await waitUntilGone(
            `tar --extract --file=- --preserve-permissions --delay-directory-restore --directory=${target}`,
          ),
        ).toEqual([]);
        expect(contents(sentinel)).toEqual(before);
      });
    });
  });
});

/** A tar stream that never ends by itself: a directory, then a 1 GiB file fed 64 KiB at a time. */
function slowArchive(): Readable {
  let header: Buffer | undefined;
  let sent = 0;
  return new Readable({
    async read() {
      if (!header) {
        const pack = tarStream.pack();
        pack.entry({ name: "files/srv/", type: "directory", mode: 0o755, mtime: PAST });
        pack.entry({ name: "files/srv/big.bin", type: "file", size: 1024 * 1024 * 1024, mode: 0o644, mtime: PAST });
        const chunks: Buffer[] = [];
        for await (const c of pack) {
          chunks.push(c as Buffer);
          if (Buffer.concat(chunks).length >= 1024) break;
        }
        header = Buffer.concat(chunks).subarray(0, 1024);
        this.push(header);
        return;
      }
      await new Promise((r) => setTimeout(r, 5));
      sent += 65536;
      this.push(Buffer.alloc(65536, sent & 0xff));
    },
  });
}

import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getBackup } from "@/lib/backups/queries";
import { createDestination } from "@/lib/destinations/mutations";
import { env } from "@/lib/env";
import { asAppError } from "@/lib/errors";
import { requestDirectoryRestore } from "@/lib/restores/mutations";
import { getRestore } from "@/lib/restores/queries";
import type { TeamContext } from "@/lib/teams/context";
import { signedUpUser } from "@/test/factories";
import { restoreEvent } from "@/inngest/events";
import { inProcessEngine, type InProcessEngine } from "@/inngest/in-process";
import { createServer, updateServer } from "./mutations";
import { createSource, updateSource } from "./source-mutations";
import { backUpNow } from "@/test/backups";

let engine: InProcessEngine;
let outside: string;
let data: string;

beforeAll(async () => {
  engine = await inProcessEngine({ retryDelayMs: () => 50 });
  outside = mkdtempSync(path.join(tmpdir(), "coffer-paths-"));
  data = path.resolve(env().DATA_DIR);
  mkdirSync(path.join(data, "storage"), { recursive: true });
});
afterAll(() => {
  rmSync(outside, { recursive: true, force: true });
  return engine?.stop();
});

const refused = /Coffer's data folder; choose a folder outside it\.$/;

/** The VALIDATION message `attempt` is refused with (`path` names the case when it is not refused). */
async function validationMessage(attempt: Promise<unknown>, path = ""): Promise<string> {
  const err = asAppError(
    await attempt.then(
      () => null,
      (e: unknown) => e,
    ),
  );
  expect(err?.code, path).toBe("VALIDATION");
  return err!.message;
}

/** Every file of the data folder with a hash of its content (the embedded database aside: it changes by itself). */
function snapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(data, { recursive: true, withFileTypes: true })) {
    const p = path.relative(data, path.join(e.parentPath, e.name));
    if (p === "pglite" || p.startsWith("pglite/")) continue;
    out[p] = e.isFile()
      ? createHash("sha256")
          .update(readFileSync(path.join(data, p)))
          .digest("hex")
      : "folder";
  }
  return out;
}

/** Paths that lead into (or are, or contain) the data folder while not reading like it. */
function tricks(tag: string) {
  const dir = mkdtempSync(path.join(outside, `${tag}-`));
  symlinkSync(data, path.join(dir, "to-data"));
  symlinkSync(path.relative(dir, path.join(data, "storage")), path.join(dir, "rel-storage"));
  symlinkSync(path.join(data, "storage", "later"), path.join(dir, "dangling"));
  return [
    `${dir}/../../${path.basename(data)}/storage`,
    `${dir}/../../${path.basename(data)}`,
    `${dir}/to-data`,
    `${dir}/to-data/storage/x`,
    `${dir}/rel-storage`,
    `${dir}/rel-storage/..`, // `..` from where the link led: the data folder itself
    `${dir}/dangling/new`,
    `/proc/self/root${data}/storage`,
    `/proc/self/cwd/${path.relative(process.cwd(), data)}`,
  ];
}

async function localServer(t: TeamContext, workDir = "/var/tmp") {
  return (await createServer(t, { kind: "local", name: `here-${Math.random().toString(36).slice(2, 8)}`, workDir })).id;
}

/** A succeeded backup of an ordinary folder on the Coffer host, stored in the data folder. */
async function backedUp(t: TeamContext, serverId: string) {
  const folder = mkdtempSync(path.join(outside, "site-"));
  writeFileSync(path.join(folder, "index.html"), "<h1>ours</h1>\n");
  const { id: sourceId } = await createSource(t, {
    serverId,
    kind: "directory",
    name: "site",
    paths: [folder],
    excludes: [],
  });
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk", prefix: "paths" });
  const backup = await runBackup(t, serverId, sourceId, destinationId);
  expect(backup).toMatchObject({ status: "succeeded" });
  return { folder, sourceId, destinationId, backupId: backup.id };
}

async function runBackup(t: TeamContext, serverId: string, sourceId: string, destinationId: string) {
  const { id } = await backUpNow(engine, t, {
    serverId,
    sourceIds: [sourceId],
    destinationIds: [destinationId],
    encrypted: true,
  });
  return getBackup(t, id);
}

async function runRestore(t: TeamContext, id: string) {
  const r = await getRestore(t, id);
  engine.send([restoreEvent({ teamId: t.id, serverId: r.serverId, restoreId: id, kind: r.kind })]);
  await engine.idle();
  return getRestore(t, id);
}

describe("the Coffer host's data folder, however a path is written", () => {
  it("refuses it as a source folder, a restore target, a work folder and a backup directory", async () => {
    const t = await (await signedUpUser("Paths")).team("admin");
    const serverId = await localServer(t);
    const { backupId, sourceId, folder } = await backedUp(t, serverId);
    const restore = { backupId, members: [`files${folder}`], serverId, mode: "overwrite" as const };
    for (const p of [data, `${data}/storage`, "/", ...tricks("save")]) {
      const source = { kind: "directory" as const, name: "x", paths: ["/etc", p], excludes: [] };
      for (const attempt of [
        () => createSource(t, { serverId, ...source }),
        () => updateSource(t, { sourceId, ...source }),
        () => requestDirectoryRestore(t, { ...restore, targetPath: p }),
        () => createDestination(t, { kind: "server", name: "sneaky", serverId, path: p }),
      ]) {
        const message = await validationMessage(attempt(), p);
        expect(message).toMatch(refused);
        // Says which path was refused, never where the data folder is or where a link led.
        if (!p.includes(data)) expect(message).not.toContain(data);
      }
    }
    // A work folder may contain the data folder (Coffer only makes a fresh private folder in it), not lie in it.
    for (const p of [data, `${data}/storage`, ...tricks("work")]) {
      for (const attempt of [
        () => createServer(t, { kind: "local", name: "w", workDir: p }),
        () => updateServer(t, { serverId, kind: "local", name: "w", workDir: p }),
      ])
        expect(await validationMessage(attempt(), p)).toMatch(refused);
    }
    const message = await validationMessage(
      createSource(t, { serverId, kind: "directory", name: "x", paths: [`/proc/self/root${data}`], excludes: [] }),
    );
    expect(message).toBe(
      `The source folder /proc/self/root${data} is Coffer's data folder; choose a folder outside it.`,
    );
    expect(await validationMessage(requestDirectoryRestore(t, { ...restore, targetPath: "/" }))).toBe(
      "The restore folder / contains Coffer's data folder; choose a folder outside it.",
    );

    // Ordinary folders, a link that stays outside, and a work folder above the data folder are fine.
    symlinkSync(folder, path.join(outside, "to-site"));
    expect(
      (
        await updateSource(t, {
          sourceId,
          kind: "directory",
          name: "site",
          paths: [`${outside}/to-site`],
          excludes: [],
        })
      ).id,
    ).toBe(sourceId);
    expect(await localServer(t, path.dirname(data))).toMatch(/^srv_/);
    expect((await requestDirectoryRestore(t, { ...restore, targetPath: `${outside}/to-site` })).id).toMatch(/^rst_/);
  });
});

describe("a link changed after saving", () => {
  it("fails the restore with the message before anything is written; the data folder is unchanged", async () => {
    const t = await (await signedUpUser("Later")).team("admin");
    const serverId = await localServer(t);
    const { backupId, folder } = await backedUp(t, serverId);
    const ordinary = mkdtempSync(path.join(outside, "into-"));
    const link = path.join(outside, `into-link-${Date.now()}`);
    symlinkSync(ordinary, link);
    const request = { backupId, members: [`files${folder}`], serverId, targetPath: link, mode: "overwrite" as const };

    // Through the link while it leads somewhere ordinary: restored.
    expect(await runRestore(t, (await requestDirectoryRestore(t, request)).id)).toMatchObject({ status: "succeeded" });
    expect(readFileSync(path.join(ordinary, folder, "index.html"), "utf8")).toBe("<h1>ours</h1>\n");

    // The same request saved, then the link pointed at the data folder's storage.
    const { id } = await requestDirectoryRestore(t, request);
    rmSync(link);
    symlinkSync(path.join(data, "storage"), link);
    const before = snapshot();
    const r = await runRestore(t, id);
    expect(r.status).toBe("failed");
    expect(r.error).toContain(`The restore folder ${link} is inside Coffer's data folder; choose a folder outside it.`);
    expect(snapshot()).toEqual(before);
  });

  it("fails the backup when a source folder or the work folder now leads into the data folder", async () => {
    const t = await (await signedUpUser("Later2")).team("admin");
    const work = mkdtempSync(path.join(outside, "work-"));
    const workLink = path.join(outside, `work-link-${Date.now()}`);
    symlinkSync(work, workLink);
    const serverId = await localServer(t, workLink);
    const { sourceId, destinationId, folder } = await backedUp(t, serverId);
    // The source folder reached through a link to the folder holding it (a source folder that is
    // itself a link is refused: a backup would hold the link alone).
    const sourceLink = path.join(outside, `source-link-${Date.now()}`);
    symlinkSync(path.dirname(folder), sourceLink);
    const sourcePath = path.join(sourceLink, path.basename(folder));
    await updateSource(t, { sourceId, kind: "directory", name: "site", paths: [sourcePath], excludes: [] });
    expect(await runBackup(t, serverId, sourceId, destinationId)).toMatchObject({ status: "succeeded" });

    rmSync(sourceLink);
    symlinkSync(data, sourceLink);
    const source = await runBackup(t, serverId, sourceId, destinationId);
    expect(source.status).toBe("failed");
    expect(source.error).toContain(
      `The source folder ${sourcePath} is inside Coffer's data folder; choose a folder outside it.`,
    );

    rmSync(sourceLink);
    symlinkSync(path.dirname(folder), sourceLink);
    rmSync(workLink);
    symlinkSync(path.join(data, "storage"), workLink);
    const before = snapshot();
    const workRun = await runBackup(t, serverId, sourceId, destinationId);
    expect(workRun.status).toBe("failed");
    expect(workRun.error).toContain(
      `The work folder ${workLink} is inside Coffer's data folder; choose a folder outside it.`,
    );
    expect(snapshot()).toEqual(before);
  });
});

import { describe, expect, it } from "vitest";
import { insertBackupRows } from "@/test/at-scale";
import { signedUpUser } from "@/test/factories";
import { createDestination } from "../destinations/mutations";
import { createServer } from "../servers/mutations";
import { listBackups, type BackupFilter } from "./queries";

/** Every row, following each page's cursor as the "Older backups" link does. */
async function walk(t: Parameters<typeof listBackups>[0], filter: BackupFilter) {
  const pages: string[][] = [];
  let before: BackupFilter["before"];
  do {
    const page = await listBackups(t, { ...filter, before });
    pages.push(page.rows.map((r) => r.id));
    before = page.next;
  } while (before);
  return pages;
}

describe("backups list", () => {
  it("pages 2 000 backups newest first to the last page, without gaps or repeats where times are equal", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    const servers = [
      (await createServer(t, { kind: "local", name: "one", workDir: "/tmp" })).id,
      (await createServer(t, { kind: "local", name: "two", workDir: "/tmp" })).id,
    ];
    const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk" });
    const newest = new Date(Date.now() - 60_000);
    // Two backups a minute: pages must break ties by id, and some pages end inside a tie.
    const ids = await insertBackupRows({ teamId: t.id, serverIds: servers, destinationId, newest }, 2_000);
    const b = await signedUpUser("Bob");
    const tb = await b.team("admin");
    const { id: theirs } = await createServer(tb, { kind: "local", name: "theirs", workDir: "/tmp" });
    await insertBackupRows({ teamId: tb.id, serverIds: [theirs], newest }, 30);

    const newestFirst = (xs: string[]) =>
      xs
        .map((id, i) => ({ id, at: newest.getTime() - Math.floor(i / 2) * 60_000 }))
        .sort((x, y) => y.at - x.at || (x.id < y.id ? 1 : -1))
        .map((x) => x.id);

    const pages = await walk(t, { limit: 75 });
    expect(pages).toHaveLength(27);
    expect(pages.slice(0, -1).every((p) => p.length === 75)).toBe(true);
    expect(pages.flat()).toEqual(newestFirst(ids));

    // One server's backups (its page), paged the same way.
    const two = ids.filter((_, i) => i % 2 === 1);
    expect((await walk(t, { serverId: servers[1], limit: 50 })).flat()).toEqual(
      newestFirst(ids).filter((id) => two.includes(id)),
    );

    // A deep page carries what the page shows: its server and where it is stored.
    const deep = await listBackups(t, {
      before: { createdAt: new Date(newest.getTime() - 900 * 60_000), id: "bkp_zzzzzzzzzzzzzzzzzzzzzzzzzz" },
      limit: 3,
    });
    expect(deep.rows.map((r) => r.id)).toEqual(newestFirst(ids).slice(1_800, 1_803));
    expect(deep.rows[0]).toMatchObject({
      status: "succeeded",
      serverName: expect.stringMatching(/^(one|two)$/),
      locations: [{ destinationName: "disk", status: "stored" }],
    });
    // Bob's list shows only his.
    expect((await walk(tb, {})).flat()).toHaveLength(30);
  });
});

// npm run bench:lists
// The lists at scale, on PostgreSQL and on PGlite (each in a process of its own): one team with
// 100 000 backups (each stored in one destination, on 5 servers) and 100 000 audit events. Times
// the lib functions the pages call — the backups list (first page, pages 1 000 and 1 999 deep by
// their cursors, a server's newest as its page shows them), the audit log (first and deep pages),
// next to `select 1` in the same process. Prints figures only.
import { benchDatabase, pct, timed } from "./databases";

const { kind, stop } = await benchDatabase("lists");
const BACKUPS = 100_000;
const AUDIT_EVENTS = 100_000;
const RUNS = 200;

const { sql } = await import("drizzle-orm");
const { teams } = await import("@/db/schema");
const { newId } = await import("@/db/columns");
const { db, closeDatabase } = await import("@/lib/db");
const { systemContext } = await import("@/lib/teams/context");
const { createServer } = await import("@/lib/servers/mutations");
const { createDestination } = await import("@/lib/destinations/mutations");
const { listBackups } = await import("@/lib/backups/queries");
const { listAuditEvents } = await import("@/lib/audit/queries");
const { insertAuditRows, insertBackupRows } = await import("../test/at-scale");

try {
  const d = await db();
  const team = { id: newId("team"), name: "Bench", slug: "bench" };
  await d.insert(teams).values(team);
  const t = systemContext(team, "bench");
  const serverIds: string[] = [];
  for (let i = 0; i < 5; i++)
    serverIds.push((await createServer(t, { kind: "local", name: `host ${i}`, workDir: "/var/tmp" })).id);
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk" });
  const now = new Date();
  await insertBackupRows({ teamId: t.id, serverIds, destinationId, newest: now }, BACKUPS);
  await insertAuditRows(t.id, AUDIT_EVENTS, now);
  if (kind === "postgres") await d.execute(sql`analyze`);

  // Cursors as the pages carry them, found by following "Older" links (the last row of each page).
  const backupCursor = async (pages: number) => {
    let before: Awaited<ReturnType<typeof listBackups>>["next"];
    for (let i = 0; i < pages; i++) before = (await listBackups(t, { before })).next;
    return before;
  };
  const pagesDeep = (n: number) => `${n * 50}`;
  const [deep1000, deep1999] = [await backupCursor(1_000), await backupCursor(1_999)];
  let auditBefore: string | undefined;
  for (let i = 0; i < 1_999; i++) auditBefore = (await listAuditEvents(t, { before: auditBefore })).nextCursor!;

  const one = await timed(RUNS, () => d.execute(sql`select 1`));
  const rows: [string, number[], number?][] = [
    ["select 1 (baseline)", one],
    ["backups: first page", await timed(RUNS, () => listBackups(t)), kind === "postgres" ? 100 : 150],
    [
      `backups: after ${pagesDeep(1_000)} rows`,
      await timed(RUNS, () => listBackups(t, { before: deep1000 })),
      kind === "postgres" ? 100 : 150,
    ],
    [
      `backups: after ${pagesDeep(1_999)} rows`,
      await timed(RUNS, () => listBackups(t, { before: deep1999 })),
      kind === "postgres" ? 100 : 150,
    ],
    ["backups: a server's newest 5", await timed(RUNS, () => listBackups(t, { serverId: serverIds[3], limit: 5 }))],
    ["audit log: first page", await timed(RUNS, () => listAuditEvents(t, {}))],
    [`audit log: after ${pagesDeep(1_999)} rows`, await timed(RUNS, () => listAuditEvents(t, { before: auditBefore }))],
  ];
  const base = pct(one, 50);
  console.log(
    `\nLists on ${kind === "postgres" ? "PostgreSQL" : "PGlite"}: one team, ${BACKUPS} backups, ${AUDIT_EVENTS} audit events; ${RUNS} runs each`,
  );
  console.log("                                      median       p95   median ÷ select 1   target (p95)");
  for (const [name, xs, target] of rows)
    console.log(
      `  ${name.padEnd(34)} ${pct(xs, 50).toFixed(2).padStart(7)} ms ${pct(xs, 95).toFixed(2).padStart(7)} ms ${(pct(xs, 50) / base).toFixed(1).padStart(10)}×` +
        (target ? `      < ${target} ms: ${pct(xs, 95) < target ? "met" : "NOT met"}` : ""),
    );
} finally {
  await closeDatabase();
  await stop();
}

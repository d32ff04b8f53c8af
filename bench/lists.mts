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

const { desc, eq, sql } = await import("drizzle-orm");
const { auditEvents, backups, teams } = await import("@/db/schema");
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

  // Deep cursors as the "Older" links carry them: the last row of the page before.
  const backupCursor = async (pages: number) => {
    const [r] = await d
      .select({ createdAt: backups.createdAt, id: backups.id })
      .from(backups)
      .where(eq(backups.teamId, t.id))
      .orderBy(desc(backups.createdAt), desc(backups.id))
      .offset(pages * 50 - 1)
      .limit(1);
    return r;
  };
  const pagesDeep = (n: number) => `${n * 50}`;
  const [deep1000, deep1999] = [await backupCursor(1_000), await backupCursor(1_999)];
  const [a] = await d
    .select({ at: auditEvents.createdAt, id: auditEvents.id })
    .from(auditEvents)
    .where(eq(auditEvents.teamId, t.id))
    .orderBy(desc(auditEvents.createdAt), desc(auditEvents.id))
    .offset(1_999 * 50 - 1)
    .limit(1);
  const auditBefore = `${a!.at.toISOString().slice(0, 23)}000Z|${a!.id}`; // inserted with millisecond times

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

// npm run bench:api
// GET /api/v1/backups at scale on PostgreSQL: one team with 100 000 backups (5 servers, each stored
// in one destination). The route handler is called in-process with real Request objects, as Next.js
// calls it (bearer token lookup, rate limit, query validation, the list, the answer checked against
// its schema) — no HTTP server, so socket and framework time are not in these figures. Times the
// first page and pages 1 000 and 1 999 deep by their cursors next to `select 1` in the same process,
// then 1 000 concurrent requests (first pages, one token) and counts the ones that were not 200.
import { benchDatabase, pct, timed } from "./databases";

const { stop } = await benchDatabase("api");
const BACKUPS = 100_000;
const RUNS = 200;
const CONCURRENT = 1_000;

const { desc, eq, sql } = await import("drizzle-orm");
const { backups } = await import("@/db/schema");
const { db, closeDatabase } = await import("@/lib/db");
const { createServer } = await import("@/lib/servers/mutations");
const { createDestination } = await import("@/lib/destinations/mutations");
const { createApiToken } = await import("@/lib/api-tokens/tokens");
const { cursor } = await import("@/lib/api/schemas");
const { GET } = await import("@/app/api/v1/backups/route");
const { insertBackupRows } = await import("../test/at-scale");
const { signedUpUser } = await import("../test/factories");

try {
  const d = await db();
  const t = await (await signedUpUser("Bench")).team("admin");
  const serverIds: string[] = [];
  for (let i = 0; i < 5; i++)
    serverIds.push((await createServer(t, { kind: "local", name: `host ${i}`, workDir: "/var/tmp" })).id);
  const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk" });
  await insertBackupRows({ teamId: t.id, serverIds, destinationId, newest: new Date() }, BACKUPS);
  await d.execute(sql`analyze`);
  // One token for the timed pages, another for the concurrent burst: each stays inside the default
  // per-token rate limit (1 200 a minute), so every request is really served.
  const { token: pages } = await createApiToken(t, { name: "pages", scopes: ["read"] });
  const { token: burst } = await createApiToken(t, { name: "burst", scopes: ["read"] });

  const get = async (token: string, query = "") => {
    const request = new Request(`http://127.0.0.1:3000/api/v1/backups${query}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const response = await GET(request, { params: Promise.resolve({}) });
    const body = (await response.json()) as { data?: unknown[] };
    if (response.status !== 200 || body.data?.length !== 50) throw new Error(`status ${response.status}`);
    return response.status;
  };
  // Deep cursors as a client holds them: the nextCursor of the page before.
  const cursorAfter = async (rows: number) => {
    const [r] = await d
      .select({ createdAt: backups.createdAt, id: backups.id })
      .from(backups)
      .where(eq(backups.teamId, t.id))
      .orderBy(desc(backups.createdAt), desc(backups.id))
      .offset(rows - 1)
      .limit(1);
    return `?cursor=${cursor.encode(r!.createdAt, r!.id)}`;
  };
  const [deep1000, deep1999] = [await cursorAfter(50_000), await cursorAfter(99_950)];
  await get(pages); // warm: the token's last use is recorded, modules loaded

  const one = await timed(RUNS, () => d.execute(sql`select 1`));
  const rows: [string, number[], number?][] = [
    ["select 1 (baseline)", one],
    ["GET /backups: first page", await timed(RUNS, () => get(pages)), 100],
    ["GET /backups: after 50000 rows", await timed(RUNS, () => get(pages, deep1000)), 100],
    ["GET /backups: after 99950 rows", await timed(RUNS, () => get(pages, deep1999)), 100],
  ];
  const base = pct(one, 50);
  console.log(
    `\nGET /api/v1/backups on PostgreSQL, route handler in-process with real Requests: one team, ${BACKUPS} backups, 50 a page; ${RUNS} runs each`,
  );
  console.log("                                      median       p95   median ÷ select 1   target (p95)");
  for (const [name, xs, target] of rows)
    console.log(
      `  ${name.padEnd(34)} ${pct(xs, 50).toFixed(2).padStart(7)} ms ${pct(xs, 95).toFixed(2).padStart(7)} ms ${(pct(xs, 50) / base).toFixed(1).padStart(10)}×` +
        (target ? `      < ${target} ms: ${pct(xs, 95) < target ? "met" : "NOT met"}` : ""),
    );

  const started = process.hrtime.bigint();
  const outcomes = await Promise.allSettled(Array.from({ length: CONCURRENT }, () => get(burst)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const errors = outcomes.filter((o) => o.status === "rejected");
  console.log(
    `\n${CONCURRENT} concurrent authenticated GET /backups (first page): ${CONCURRENT - errors.length} answered 200, ` +
      `${errors.length} errors, in ${seconds.toFixed(2)} s (${(CONCURRENT / seconds).toFixed(0)} requests/s)`,
  );
  if (errors.length) console.log(`  first error: ${(errors[0] as PromiseRejectedResult).reason}`);
} finally {
  await closeDatabase();
  await stop();
}

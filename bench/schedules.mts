// npm run bench:schedules
// The scheduler at scale, on PostgreSQL and on PGlite (each in a process of its own): 100 000
// schedules in 20 teams, 10 000 of them due in the same minute. Times the schedule-tick function
// as the in-process engine runs it (claims and dispatches; the dispatched backups are counted as
// they are sent, not run) until all 10 000 are queued, and idle ticks once nothing is due; next
// to baselines in the same process: inserting 10 000 bare backup rows, and `select 1`. Prints
// figures only.
import { benchDatabase, ms, pct, timed } from "./databases";

const { kind, stop } = await benchDatabase("schedules");
const TEAMS = 20;
const PER_TEAM = 5_000;
const DUE_PER_TEAM = 500;

const { and, count, eq, sql } = await import("drizzle-orm");
const { backups, teams } = await import("@/db/schema");
const { newId } = await import("@/db/columns");
const { db, closeDatabase } = await import("@/lib/db");
const { systemContext } = await import("@/lib/teams/context");
const { createServer } = await import("@/lib/servers/mutations");
const { createSource } = await import("@/lib/servers/source-mutations");
const { createDestination } = await import("@/lib/destinations/mutations");
const { createSchedule } = await import("@/lib/schedules/mutations");
const { claimDueSchedulesAllTeams } = await import("@/lib/schedules/due");
const { DEFAULT_POLICY } = await import("@/lib/retention/select");
const { setScheduleRow } = await import("../test/arrange");
const { copySchedule, insertBackupRows } = await import("../test/at-scale");
const { InProcessEngine } = await import("@/inngest/in-process");
const { scheduleTick } = await import("@/inngest/functions/schedule-tick");
type AnyFunction = import("@/inngest/sdk-adapter").AnyFunction;

try {
  const d = await db();
  const setupStart = process.hrtime.bigint();
  const slot = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  const later = new Date(slot.getTime() + 3_600_000);
  const teamServers: { teamId: string; serverId: string }[] = [];
  for (let i = 0; i < TEAMS; i++) {
    const team = { id: newId("team"), name: `Bench ${i}`, slug: `bench-${i}` };
    await d.insert(teams).values(team);
    const t = systemContext(team, "bench");
    const { id: serverId } = await createServer(t, { kind: "local", name: "this host", workDir: "/var/tmp" });
    const { id: sourceId } = await createSource(t, {
      serverId,
      kind: "directory",
      name: "etc",
      paths: ["/etc"],
      excludes: [],
    });
    const { id: destinationId } = await createDestination(t, { kind: "local", name: "disk" });
    teamServers.push({ teamId: team.id, serverId });
    for (const [name, n, nextRunAt] of [
      ["due", DUE_PER_TEAM, slot],
      ["later", PER_TEAM - DUE_PER_TEAM, later],
    ] as const) {
      const { id } = await createSchedule(t, {
        name,
        serverId,
        sourceIds: [sourceId],
        destinationIds: [destinationId],
        when: { kind: "daily", time: "03:00" },
        timezone: "UTC",
        encrypted: true,
        enabled: true,
        verify: false,
        retention: DEFAULT_POLICY,
      });
      await setScheduleRow(id, { nextRunAt });
      await copySchedule(id, n - 1, { nextRunAt });
    }
  }
  const setupS = ms(process.hrtime.bigint() - setupStart) / 1000;

  // Baseline: the bare cost of writing 10 000 backup rows here, in batches of 1 000.
  const baseStart = process.hrtime.bigint();
  await insertBackupRows(
    {
      teamId: teamServers[0]!.teamId,
      serverIds: [teamServers[0]!.serverId],
      newest: new Date(slot.getTime() - 86_400_000),
    },
    TEAMS * DUE_PER_TEAM,
  );
  const baseMs = ms(process.hrtime.bigint() - baseStart);

  // The engine runs only the tick: the backups it dispatches are counted as they are sent, not run.
  const dispatched = new Set<string>();
  const engine = new (class extends InProcessEngine {
    override send(events: Parameters<InProcessEngine["send"]>[0]) {
      for (const e of events) dispatched.add(String(e.data?.backupId));
      return super.send(events);
    }
  })([scheduleTick as AnyFunction]);
  const tick = async () => {
    engine.runCron(scheduleTick);
    await engine.idle();
  };
  const tickStart = process.hrtime.bigint();
  await tick();
  const tickMs = ms(process.hrtime.bigint() - tickStart);
  const [queued] = await d
    .select({ n: count() })
    .from(backups)
    .where(and(eq(backups.trigger, "schedule"), eq(backups.scheduledFor, slot)));

  await timed(20, tick); // warm-up
  const one = await timed(200, () => d.execute(sql`select 1`));
  const idleClaim = await timed(200, () => claimDueSchedulesAllTeams());
  const idleTick = await timed(100, tick);

  const row = (name: string, xs: number[]) =>
    console.log(
      `  ${name.padEnd(40)} ${pct(xs, 50).toFixed(2).padStart(7)} ms ${pct(xs, 95).toFixed(2).padStart(7)} ms ${(pct(xs, 50) / pct(one, 50)).toFixed(1).padStart(8)}×`,
    );
  console.log(
    `\nScheduler on ${kind === "postgres" ? "PostgreSQL" : "PGlite"}: ${TEAMS * PER_TEAM} schedules in ${TEAMS} teams, ${TEAMS * DUE_PER_TEAM} due at ${slot.toISOString()} (set up in ${setupS.toFixed(0)} s)`,
  );
  console.log(
    `  one tick queued ${queued!.n} backups and dispatched ${dispatched.size} in ${(tickMs / 1000).toFixed(2)} s` +
      ` (target ≤ 30 s: ${tickMs <= 30_000 && queued!.n === TEAMS * DUE_PER_TEAM && dispatched.size === queued!.n ? "met" : "NOT met"});` +
      ` ${(tickMs / baseMs).toFixed(2)}× the ${(baseMs / 1000).toFixed(2)} s of inserting as many bare backup rows`,
  );
  console.log("  nothing due                                 median      p95   median ÷ select 1");
  row("select 1 (baseline)", one);
  row("claim (the tick's query)", idleClaim);
  row("whole tick, through the engine", idleTick);
  console.log(`  idle tick under 10 ms at p95: ${pct(idleTick, 95) < 10 ? "met" : "NOT met"}`);
} finally {
  await closeDatabase();
  await stop();
}

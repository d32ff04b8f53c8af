// The retention journey's history: run by playwright.config.ts (tsx --conditions=react-server)
// before its `next start`, against that server's own fresh data folder. Everything goes through
// Coffer's own lib/ functions, as the app and the workflows call them: sign-up (real password
// hash), a local server with a directory source, a local-disk destination, a daily schedule that
// keeps every backup, then one backup per day for 40 days, each claimed from the schedule as the
// tick claims it and run by the real backup run (tar | gzip on this host, sealed, written to the
// disk destination, sizes recorded). The only arrangement no product path makes is the calendar:
// each slot's backup is dated to its day (test/arrange.ts), as if the schedule had been running.
import { Cron } from "croner";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { signUp } from "@/lib/auth/users";
import { signUpSchema } from "@/lib/auth/schemas";
import { backupFileName } from "@/lib/backups/mutations";
import { transferBackup } from "@/lib/backups/transfer";
import { closeDatabase } from "@/lib/db";
import { createDestination } from "@/lib/destinations/mutations";
import { createDestinationSchema } from "@/lib/destinations/schemas";
import { env } from "@/lib/env";
import { createSchedule } from "@/lib/schedules/mutations";
import { createScheduleSchema } from "@/lib/schedules/schemas";
import { claimDueSchedulesAllTeams } from "@/lib/schedules/due";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { createServerSchema, createSourceSchema } from "@/lib/servers/schemas";
import { teamForUser } from "@/lib/teams/context";
import { setBackupRow, setScheduleRow } from "@/test/arrange";
import { retentionFixture as f } from "./retention-fixture";

const started = Date.now();
if (path.resolve(env().DATA_DIR) !== f.dataDir)
  throw new Error(
    `The seed writes only to its own data folder: run it with DATA_DIR=${f.dataDir} (playwright.config.ts does).`,
  );
rmSync(f.root, { recursive: true, force: true });
mkdirSync(f.filesDir, { recursive: true });

const { userId, teamSlug } = await signUp(
  signUpSchema.parse({ name: f.name, email: f.email, password: f.password, teamName: f.teamName }),
);
const t = await teamForUser({ userId, label: f.email, ip: null }, teamSlug, "owner");
const server = await createServer(t, createServerSchema.parse({ kind: "local", name: f.server }));
const source = await createSource(
  t,
  createSourceSchema.parse({ serverId: server.id, kind: "directory", name: f.source, paths: f.filesDir }),
);
const destination = await createDestination(t, createDestinationSchema.parse({ name: f.destination, kind: "local" }));

// Daily at the local time an hour ago, so the newest backup is an hour old and the next slot is
// ~23 hours away: no scheduled run starts while the journey runs.
const now = new Date();
const time = new Intl.DateTimeFormat("en-GB", {
  timeZone: f.timeZone,
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
}).format(new Date(now.getTime() - 3_600_000));
const schedule = await createSchedule(
  t,
  createScheduleSchema.parse({
    name: f.schedule,
    serverId: server.id,
    sourceIds: [source.id],
    destinationIds: [destination.id],
    when: { kind: "daily", time },
    timezone: f.timeZone,
    // Everything kept until someone chooses a policy (the counts then only set storage tiers).
    retention: { keepAll: true, last: 0, daily: 7, weekly: 4, monthly: 6, yearly: 0 },
  }),
);

// The schedule's slots over the last 40 days, oldest first (in its time zone, across DST).
const [hh, mm] = time.split(":").map(Number);
const slots = new Cron(`${mm} ${hh} * * *`, { timezone: f.timeZone, paused: true })
  .previousRuns(f.backups, now)
  .reverse();
// One after the other, as the product runs a server's backups: each slot claimed as the tick
// claims it, dated to its day, then run.
for (const [i, slot] of slots.entries()) {
  // The site changes every day, so the backups' sizes differ (all under 1 KiB, which the
  // backups list shows to the byte).
  writeFileSync(path.join(f.filesDir, "index.html"), `<h1>Day ${i + 1}</h1>\n`);
  writeFileSync(path.join(f.filesDir, "uploads.bin"), randomBytes(1 + (i % 8)));
  await setScheduleRow(schedule.id, { nextRunAt: slot });
  const {
    due: [due],
  } = await claimDueSchedulesAllTeams(slot);
  if (!due) throw new Error(`The schedule did not claim its slot ${slot.toISOString()}.`);
  await setBackupRow(due.backupId, { createdAt: slot, startedAt: slot, fileName: backupFileName(f.server, slot) });
  const stored = await transferBackup(t.id, due.backupId);
  if (!stored) throw new Error(`Backup ${due.backupId} could not be claimed.`);
  if (stored.locations !== 1 || stored.sizeBytes >= 1024)
    throw new Error(
      `Backup ${due.backupId} stored ${stored.locations} copies of ${stored.sizeBytes} bytes; the journey expects one copy under 1 KiB.`,
    );
  await setBackupRow(due.backupId, { finishedAt: new Date(slot.getTime() + 1_000 + (i % 5) * 700) });
}
// The last claim left the schedule at its next slot after the newest one: its real next run.
await closeDatabase();
console.log(
  `Seeded ${slots.length} backups of schedule ${f.schedule} (daily at ${time}, ${f.timeZone}) for ${f.email} in team ${teamSlug}, ${((Date.now() - started) / 1000).toFixed(1)} s.`,
);

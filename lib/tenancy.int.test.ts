import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { requestBackup } from "@/lib/backups/mutations";
import { db, pgCode } from "@/lib/db";
import { createDestination } from "@/lib/destinations/mutations";
import { requestVerification } from "@/lib/restores/mutations";
import { DEFAULT_POLICY } from "@/lib/retention/select";
import { createSchedule } from "@/lib/schedules/mutations";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { insertBackupRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";

// The database itself refuses a row of one team that points at another team's row: every
// reference between team tables is a composite (team_id, …) foreign key. Each case below writes
// such a reference directly in SQL, past lib/, and must be refused.

/** A team with one of everything, made through lib/. */
async function team(name: string) {
  const user = await signedUpUser(name);
  const t = await user.team("owner");
  const { id: server } = await createServer(t, { kind: "local", name: "host", workDir: "/var/tmp" });
  const { id: source } = await createSource(t, {
    serverId: server,
    kind: "postgres",
    name: `${name}-db`,
    pgHost: "127.0.0.1",
    pgPort: 5432,
    pgDatabase: "app",
    pgUser: "app",
    pgSslmode: "prefer",
  });
  const { id: destination } = await createDestination(t, { kind: "local", name: "disk", prefix: "b" });
  const { id: schedule } = await createSchedule(t, {
    name: "nightly",
    serverId: server,
    sourceIds: [source],
    destinationIds: [destination],
    when: { kind: "daily", time: "02:00" },
    timezone: "UTC",
    encrypted: true,
    enabled: false,
    retention: DEFAULT_POLICY,
    verify: true,
    verifySourceId: source,
  });
  const { id: backup } = await requestBackup(t, { serverId: server, destinationIds: [destination], encrypted: true });
  const stored = await insertBackupRow({
    teamId: t.id,
    serverId: server,
    scheduleId: schedule,
    trigger: "schedule",
    status: "succeeded",
    encrypted: false,
    fileName: "host.tar.gz",
    sourceIds: [source],
    destinationIds: [destination],
  });
  const { id: restore } = await requestVerification(t, { backupId: stored, connectionSourceId: source });
  return { team: t.id, server, source, destination, schedule, backup, stored, restore };
}

type Team = Awaited<ReturnType<typeof team>>;

// [reference, a statement making team A's row point at team B's row]
const crossTeam: [string, (a: Team, b: Team) => string][] = [
  ["sources.server_id", (a, b) => `update sources set server_id = '${b.server}' where id = '${a.source}'`],
  ["schedules.server_id", (a, b) => `update schedules set server_id = '${b.server}' where id = '${a.schedule}'`],
  [
    "schedules.verify_source_id",
    (a, b) => `update schedules set verify_source_id = '${b.source}' where id = '${a.schedule}'`,
  ],
  [
    "schedule_sources.source_id",
    (a, b) => `insert into schedule_sources values ('${a.team}', '${a.schedule}', '${b.source}')`,
  ],
  [
    "schedule_sources.schedule_id",
    (a, b) => `insert into schedule_sources values ('${a.team}', '${b.schedule}', '${a.source}')`,
  ],
  [
    "schedule_destinations.destination_id",
    (a, b) => `insert into schedule_destinations values ('${a.team}', '${a.schedule}', '${b.destination}')`,
  ],
  [
    "storage_destinations.server_id",
    (a, b) => `update storage_destinations set server_id = '${b.server}' where id = '${a.destination}'`,
  ],
  ["backups.server_id", (a, b) => `update backups set server_id = '${b.server}' where id = '${a.backup}'`],
  ["backups.schedule_id", (a, b) => `update backups set schedule_id = '${b.schedule}' where id = '${a.backup}'`],
  [
    "backup_sources.source_id",
    (a, b) => `insert into backup_sources values ('${a.team}', '${a.backup}', '${b.source}')`,
  ],
  [
    "backup_sources.backup_id",
    (a, b) => `insert into backup_sources values ('${a.team}', '${b.backup}', '${a.source}')`,
  ],
  [
    "backup_destinations.destination_id",
    (a, b) => `insert into backup_destinations values ('${a.team}', '${a.backup}', '${b.destination}')`,
  ],
  [
    "backup_locations.destination_id",
    (a, b) =>
      `insert into backup_locations (id, team_id, backup_id, destination_id, object_key) values ('loc_x', '${a.team}', '${a.backup}', '${b.destination}', 'k')`,
  ],
  [
    "backup_locations.backup_id",
    (a, b) =>
      `insert into backup_locations (id, team_id, backup_id, destination_id, object_key) values ('loc_y', '${a.team}', '${b.backup}', '${a.destination}', 'k')`,
  ],
  [
    "backup_logs.backup_id",
    (a, b) =>
      `insert into backup_logs (team_id, backup_id, level, message) values ('${a.team}', '${b.backup}', 'info', 'x')`,
  ],
  ["restores.backup_id", (a, b) => `update restores set backup_id = '${b.stored}' where id = '${a.restore}'`],
  ["restores.server_id", (a, b) => `update restores set server_id = '${b.server}' where id = '${a.restore}'`],
  [
    "restores.connection_source_id",
    (a, b) => `update restores set connection_source_id = '${b.source}' where id = '${a.restore}'`,
  ],
  [
    "restores.scratch_source_id",
    (a, b) => `update restores set scratch_source_id = '${b.source}' where id = '${a.restore}'`,
  ],
  [
    "restores.safety_backup_id",
    (a, b) => `update restores set safety_backup_id = '${b.stored}' where id = '${a.restore}'`,
  ],
  [
    "restore_logs.restore_id",
    (a, b) =>
      `insert into restore_logs (team_id, restore_id, level, message) values ('${a.team}', '${b.restore}', 'info', 'x')`,
  ],
];

let a: Team;
let b: Team;
beforeAll(async () => {
  [a, b] = [await team("Ann"), await team("Bob")];
});

describe("references between team rows", () => {
  it.each(crossTeam)("the database refuses %s pointing at another team's row", async (_, statement) => {
    const d = await db();
    const error = await d.execute(sql.raw(statement(a, b))).then(
      () => null,
      (err: unknown) => err,
    );
    expect(pgCode(error), String(error)).toBe("23503"); // foreign_key_violation
  });

  it("every *_id column of a table with team_id is in a foreign key that includes team_id", async () => {
    const d = await db();
    const rows = await d.execute<{ table_name: string; column_name: string }>(sql`
      select c.table_name, c.column_name
      from information_schema.columns c
      where c.table_schema = 'public' and c.column_name like '%\_id' and c.column_name not in ('id', 'team_id')
        and exists (select 1 from information_schema.columns t
                    where t.table_schema = 'public' and t.table_name = c.table_name and t.column_name = 'team_id')
        and not exists (
          select 1 from pg_constraint k
          join pg_class r on r.oid = k.conrelid
          where k.contype = 'f' and r.relname = c.table_name
            and exists (select 1 from pg_attribute a where a.attrelid = r.oid and a.attname = c.column_name and a.attnum = any (k.conkey))
            and exists (select 1 from pg_attribute a where a.attrelid = r.oid and a.attname = 'team_id' and a.attnum = any (k.conkey)))
      order by 1, 2`);
    const list = ((rows as { rows?: unknown }).rows ?? rows) as { table_name: string; column_name: string }[];
    // Not references to team rows: who did it (kept when the user goes), free-text targets, a
    // team's users, master key ids.
    const exempt = [
      "audit_events.actor_user_id",
      "audit_events.target_id",
      "api_tokens.created_by_user_id",
      "memberships.user_id",
      "backups.dek_key_id",
      "backups.header_key_id",
      // The team id an object's header names when it was taken back from storage, and such former
      // ids themselves: ids of teams that are not (or no longer) in this Coffer.
      "backups.header_team_id",
      "former_team_ids.former_id",
    ];
    expect(list.map((r) => `${r.table_name}.${r.column_name}`).filter((c) => !exempt.includes(c))).toEqual([]);
  });
});

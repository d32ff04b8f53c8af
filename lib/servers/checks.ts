import "server-only";
import { and, eq } from "drizzle-orm";
import { servers, sources } from "@/db/schema";
import { openSecret } from "../crypto/secret-box";
import { db } from "../db";
import { env } from "../env";
import { checked, recordCheck, type CheckResult } from "../checks";
import { AppError } from "../errors";
import { resolveAllowedAddress } from "../net/address-guard";
import { runCommand, type Reach } from "../reach";
import { assertRole, inTeam, requireRow, type TeamContext } from "../teams/context";
import { withServer } from "./connect";

const gib = (kib: number) => `${(kib / 1024 / 1024).toFixed(1)} GiB`;

/** Free space (KiB) in `dir` on the server, or an AppError saying what is wrong with the folder. */
async function freeKib(reach: Reach, dir: string): Promise<number> {
  const probe = await runCommand(reach, ["sh", "-c", 'if [ ! -d "$1" ]; then echo missing; elif [ ! -w "$1" ]; then echo readonly; else df -Pk "$1" | tail -n 1; fi', "sh", dir]);
  const out = probe.stdout.trim();
  if (out === "missing") throw new AppError("VALIDATION", `The work folder ${dir} does not exist on ${reach.label}. Create it, or choose another in the server's settings.`);
  if (out === "readonly") throw new AppError("VALIDATION", `The work folder ${dir} on ${reach.label} is not writable by the SSH user. Fix its permissions, or choose another.`);
  const available = Number(out.split(/\s+/)[3]);
  if (probe.code !== 0 || !Number.isFinite(available)) throw new AppError("UPSTREAM", `Could not read the free space of ${dir} on ${reach.label}: ${probe.stderrTail.trim() || "df failed"}.`);
  return available;
}

/** Connection, authentication, host key, tools and work folder of a server. */
export async function testServer(t: TeamContext, serverId: string): Promise<CheckResult> {
  assertRole(t, "member");
  const d = await db();
  const [s] = await d.select({ workDir: servers.workDir }).from(servers).where(inTeam(servers, t, eq(servers.id, serverId)));
  const { workDir } = requireRow(s, "That server");
  const result = await checked(() =>
    withServer(t, serverId, async (reach) => {
      const who = await runCommand(reach, ["sh", "-c", "id -un; uname -sr; for c in tar gzip pigz pg_dump psql; do command -v \"$c\" >/dev/null 2>&1 && echo \"$c\"; done; true"]);
      const [user = "?", system = "?", ...tools] = who.stdout.trim().split("\n");
      const free = await freeKib(reach, workDir);
      const missing = ["tar", "gzip"].filter((c) => !tools.includes(c));
      const facts = { user, system, tools: tools.join(", ") || "none", [`free in ${workDir}`]: gib(free) };
      if (missing.length) return { ok: false, message: `Connected, but ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not installed on ${reach.label}.`, facts };
      return { ok: true, message: `Connected as ${user} (${system}); ${gib(free)} free in ${workDir}.`, facts };
    }),
  );
  await recordCheck(servers, t, serverId, result);
  return result;
}

/** pg_dump's major version (e.g. 15) from `pg_dump (PostgreSQL) 15.18 (Debian …)`. */
export function pgDumpMajor(versionLine: string): number | undefined {
  const m = versionLine.match(/\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/);
  return m ? Number(m[1]) : undefined;
}

/** Turns psql's stderr into what the user should fix. */
export function explainPsqlError(stderr: string, s: { pgHost: string; pgPort: number; pgDatabase: string; pgUser: string }): string {
  const where = `${s.pgHost}:${s.pgPort}`;
  if (/password authentication failed|no password supplied|authentication failed/i.test(stderr)) return `PostgreSQL at ${where} refused user ${s.pgUser}: check the user name and password.`;
  if (/database ".*" does not exist/i.test(stderr)) return `Database ${s.pgDatabase} does not exist on ${where}.`;
  if (/role ".*" does not exist/i.test(stderr)) return `User ${s.pgUser} does not exist on ${where}.`;
  if (/permission denied for database|must have CONNECT/i.test(stderr)) return `User ${s.pgUser} may not connect to ${s.pgDatabase}: grant CONNECT on the database.`;
  if (/no pg_hba\.conf entry/i.test(stderr)) return `PostgreSQL at ${where} does not accept ${s.pgUser} from this server: add a pg_hba.conf entry.`;
  if (/Connection refused|could not connect|No such file or directory|timeout expired|could not translate host name/i.test(stderr)) return `Nothing answers as PostgreSQL at ${where} from the server: check the host, port and that PostgreSQL is running.`;
  if (/SSL/i.test(stderr)) return `PostgreSQL at ${where} failed the SSL requirement: ${stderr.trim().split("\n")[0]}`;
  return `psql failed: ${stderr.trim().split("\n")[0] ?? "unknown error"}`;
}

/** The environment psql and pg_dump need; the password travels on stdin, never on a command line. */
export function pgEnv(t: TeamContext, s: { id: string; pgPasswordEnc: string | null; pgSslmode: string | null }): Record<string, string> {
  return {
    PGCONNECT_TIMEOUT: "10",
    PGSSLMODE: s.pgSslmode ?? "prefer",
    ...(s.pgPasswordEnc && { PGPASSWORD: openSecret(s.pgPasswordEnc, { teamId: t.id, table: "sources", column: "pg_password_enc", rowId: s.id }) }),
  };
}

export const pgArgs = (s: { pgHost: string | null; pgPort: number | null; pgUser: string | null; pgDatabase: string | null }) => [
  "-h",
  s.pgHost ?? "localhost",
  "-p",
  String(s.pgPort ?? 5432),
  "-U",
  s.pgUser!,
  "-d",
  s.pgDatabase!,
];

/** A source is ready when Coffer could back it up now: reachable, readable, enough room. */
export async function testSource(t: TeamContext, sourceId: string): Promise<CheckResult> {
  assertRole(t, "member");
  const d = await db();
  const [row] = await d
    .select({ source: sources, workDir: servers.workDir, serverKind: servers.kind })
    .from(sources)
    .innerJoin(servers, and(eq(servers.teamId, sources.teamId), eq(servers.id, sources.serverId)))
    .where(inTeam(sources, t, eq(sources.id, sourceId)));
  const { source: s, workDir, serverKind } = requireRow(row, "That source");
  const result = await checked(() =>
    withServer(t, s.serverId, async (reach) => {
      if (s.kind === "directory") return checkDirectories(reach, s.paths ?? []);
      // On the Coffer host itself, the database host is one Coffer connects to: guard it.
      if (serverKind === "local") await resolveAllowedAddress(s.pgHost!, { allowPrivate: env().allowPrivateNetworks });
      const dump = await runCommand(reach, ["pg_dump", "--version"]).catch(() => undefined);
      const dumpMajor = dump?.code === 0 ? pgDumpMajor(dump.stdout) : undefined;
      if (!dumpMajor) return { ok: false, message: `pg_dump is not installed on ${reach.label}: install the PostgreSQL client (Debian/Ubuntu: apt install postgresql-client).`, facts: {} };
      const query =
        "select current_setting('server_version_num')::int / 10000, pg_database_size(current_database()), " +
        "(select count(*) from pg_catalog.pg_tables where schemaname not in ('pg_catalog', 'information_schema') " +
        "and not has_table_privilege(format('%I.%I', schemaname, tablename), 'SELECT'))";
      const q = await runCommand(reach, ["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", ...pgArgs(s), "-c", query], { env: pgEnv(t, s) });
      if (q.code !== 0) return { ok: false, message: explainPsqlError(q.stderrTail, { pgHost: s.pgHost!, pgPort: s.pgPort!, pgDatabase: s.pgDatabase!, pgUser: s.pgUser! }), facts: { pg_dump: dump!.stdout.trim() } };
      const [serverMajor, bytes, unreadable] = q.stdout.trim().split("|").map(Number) as [number, number, number];
      const free = await freeKib(reach, workDir);
      const facts = { pg_dump: dump!.stdout.trim(), "server version": String(serverMajor), "database size": gib(bytes / 1024), [`free in ${workDir}`]: gib(free) };
      if (dumpMajor < serverMajor) return { ok: false, message: `pg_dump ${dumpMajor} on ${reach.label} cannot dump PostgreSQL ${serverMajor}: install postgresql-client-${serverMajor}.`, facts };
      if (unreadable > 0) return { ok: false, message: `User ${s.pgUser} cannot read ${unreadable} table(s) of ${s.pgDatabase}: grant SELECT (or use the pg_read_all_data role).`, facts };
      if (free * 1024 < bytes) return { ok: false, message: `Not enough free space in ${workDir} on ${reach.label}: ${gib(free)} free, the database is ${gib(bytes / 1024)}.`, facts };
      return { ok: true, message: `Readable: ${s.pgDatabase} (${gib(bytes / 1024)}) on PostgreSQL ${serverMajor}, pg_dump ${dumpMajor}; ${gib(free)} free in ${workDir}.`, facts };
    }),
  );
  await recordCheck(sources, t, sourceId, result);
  return result;
}

async function checkDirectories(reach: Reach, paths: string[]): Promise<CheckResult> {
  // Paths are arguments of a fixed script, never part of it.
  const probe = await runCommand(reach, [
    "sh",
    "-c",
    'for p do if [ ! -e "$p" ]; then echo "missing $p"; elif [ ! -d "$p" ]; then echo "notdir $p"; elif [ ! -r "$p" ] || [ ! -x "$p" ]; then echo "unreadable $p"; fi; done',
    "sh",
    ...paths,
  ]);
  const problems = probe.stdout.trim().split("\n").filter(Boolean);
  if (probe.code !== 0) return { ok: false, message: `Could not check the paths on ${reach.label}: ${probe.stderrTail.trim()}`, facts: {} };
  if (problems.length === 0) return { ok: true, message: `All ${paths.length} path(s) exist and are readable on ${reach.label}.`, facts: { paths: paths.join(", ") } };
  const words: Record<string, string> = { missing: "does not exist", notdir: "is not a directory", unreadable: "is not readable by the SSH user" };
  const message = problems
    .map((line) => {
      const [what, ...rest] = line.split(" ");
      return `${rest.join(" ")} ${words[what!] ?? what}`;
    })
    .join("; ");
  return { ok: false, message: `On ${reach.label}: ${message}.`, facts: {} };
}

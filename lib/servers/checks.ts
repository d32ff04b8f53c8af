import "server-only";
import { and, eq } from "drizzle-orm";
import { servers, sources } from "@/db/schema";
import { openSecret } from "../crypto/secret-box";
import { db } from "../db";
import { env } from "../env";
import { checked, recordCheck, type CheckResult } from "../check-result";
import { AppError } from "../errors";
import { resolveAllowedAddress } from "../net/address-guard";
import { runCommand, type Reach } from "../reach";
import { assertRole, inTeam, requireRow, type TeamContext } from "../teams/context";
import { withServer } from "./connect";
import { describeGzipTool, fasterGzipHint, gzipToolOf, packageManagers, type PackageManager } from "./gzip-tool";
import {
  CLUSTER_LIST,
  clusterDatabases,
  explainPsqlError,
  OWN_SESSION,
  pgConnectionEnv,
  pgDumpMajor,
  type PgConnection,
} from "./postgres";
import { freeSpaceProblem, LINK_PROBLEM } from "../backups/plan";
import { formatBytes, formatCount } from "../format";

/** A Test that hangs (a stale mount, a command that never returns) answers as failed instead of never. */
const TEST_DEADLINE = { deadlineMs: 120_000 };

/** Free space (KiB) in `dir` on the server, or an AppError saying what is wrong with the folder. */
async function freeKib(reach: Reach, dir: string): Promise<number> {
  const probe = await runCommand(reach, [
    "sh",
    "-c",
    'if [ ! -d "$1" ]; then echo missing; elif [ ! -w "$1" ]; then echo readonly; else df -Pk "$1" | tail -n 1; fi',
    "sh",
    dir,
  ]);
  const out = probe.stdout.trim();
  if (out === "missing")
    throw new AppError(
      "VALIDATION",
      `The work folder ${dir} does not exist on ${reach.label}. Create it, or choose another in the server's settings.`,
    );
  if (out === "readonly")
    throw new AppError(
      "VALIDATION",
      `The work folder ${dir} on ${reach.label} is not writable by the SSH user. Fix its permissions, or choose another.`,
    );
  const available = Number(out.split(/\s+/)[3]);
  if (probe.code !== 0 || !Number.isFinite(available))
    throw new AppError(
      "UPSTREAM",
      `Could not read the free space of ${dir} on ${reach.label}: ${probe.stderrTail.trim() || "df failed"}.`,
    );
  return available;
}

/** Connection, authentication, host key, tools (and which gzip backups use), and work folder of a server. */
export async function testServer(t: TeamContext, serverId: string): Promise<CheckResult> {
  assertRole(t, "member");
  const d = await db();
  const [s] = await d
    .select({ workDir: servers.workDir })
    .from(servers)
    .where(inTeam(servers, t, eq(servers.id, serverId)));
  const { workDir } = requireRow(s, "That server");
  const result = await checked(() =>
    withServer(
      t,
      serverId,
      async (reach) => {
        const who = await runCommand(reach, [
          "sh",
          "-c",
          'id -un; uname -sr; for c in tar gzip pigz igzip pg_dump psql; do command -v "$c" >/dev/null 2>&1 && echo "$c"; done; ' +
            `for c in ${packageManagers.join(" ")}; do command -v "$c" >/dev/null 2>&1 && echo "pm $c" && break; done; true`,
        ]);
        const [user = "?", system = "?", ...lines] = who.stdout.trim().split("\n");
        const tools = lines.filter((l) => !l.startsWith("pm "));
        const packageManager = lines.find((l) => l.startsWith("pm "))?.slice(3) as PackageManager | undefined;
        const free = await freeKib(reach, workDir);
        const missing = ["tar", "gzip"].filter((c) => !tools.includes(c));
        const gzip = gzipToolOf(tools);
        const facts = {
          user,
          system,
          tools: tools.join(", ") || "none",
          ...(gzip && { compression: describeGzipTool(gzip) }),
          [`free in ${workDir}`]: formatBytes(free * 1024),
        };
        if (missing.length)
          return {
            ok: false,
            message: `Connected, but ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not installed on ${reach.label}.`,
            facts,
          };
        const hint = gzip === "gzip" ? ` ${fasterGzipHint(packageManager)}` : "";
        return {
          ok: true,
          message: `Connected as ${user} (${system}); ${formatBytes(free * 1024)} free in ${workDir}. Compression: ${describeGzipTool(gzip!)}.${hint}`,
          facts,
        };
      },
      TEST_DEADLINE,
    ),
  );
  await recordCheck(servers, t, serverId, result);
  return result;
}

/** A PostgreSQL source's connection, its password opened from the secret box. */
export function sourceConnection(
  t: TeamContext,
  s: {
    id: string;
    pgHost: string | null;
    pgPort: number | null;
    pgDatabase: string | null;
    pgUser: string | null;
    pgSslmode: string | null;
    pgPasswordEnc: string | null;
    pgRequireScram: boolean;
  },
): PgConnection {
  return {
    host: s.pgHost ?? "localhost",
    port: s.pgPort ?? 5432,
    database: s.pgDatabase!,
    user: s.pgUser!,
    sslmode: s.pgSslmode ?? "prefer",
    requireScram: s.pgRequireScram,
    password: s.pgPasswordEnc
      ? openSecret(s.pgPasswordEnc, { teamId: t.id, table: "sources", column: "pg_password_enc", rowId: s.id })
      : undefined,
  };
}

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
    withServer(
      t,
      s.serverId,
      async (reach) => {
        if (s.kind === "directory") return checkDirectories(reach, s.paths ?? []);
        // On the Coffer host itself, the database host is one Coffer connects to: guard it.
        const hostaddr =
          serverKind === "local"
            ? (await resolveAllowedAddress(s.pgHost!, { allowPrivate: env().allowPrivateNetworks })).address
            : undefined;
        const dump = await runCommand(reach, ["pg_dump", "--version"]).catch(() => undefined);
        const dumpMajor = dump?.code === 0 ? pgDumpMajor(dump.stdout) : undefined;
        if (!dumpMajor)
          return {
            ok: false,
            message: `pg_dump is not installed on ${reach.label}: install the PostgreSQL client (Debian/Ubuntu: apt install postgresql-client).`,
            facts: {},
          };
        const query =
          "select current_setting('server_version_num')::int / 10000, pg_database_size(current_database()), " +
          "(select count(*) from pg_catalog.pg_tables where schemaname not in ('pg_catalog', 'information_schema') " +
          "and not has_table_privilege(format('%I.%I', schemaname, tablename), 'SELECT'))";
        const q = await runCommand(
          reach,
          ["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", OWN_SESSION + query],
          {
            env: pgConnectionEnv({ ...sourceConnection(t, s), hostaddr }),
          },
        );
        if (q.code !== 0)
          return {
            ok: false,
            message: explainPsqlError(q.stderrTail, {
              pgHost: s.pgHost!,
              pgPort: s.pgPort!,
              pgDatabase: s.pgDatabase!,
              pgUser: s.pgUser!,
            }),
            facts: { pg_dump: dump!.stdout.trim() },
          };
        const [serverMajor, bytes, unreadable] = q.stdout.trim().split("|").map(Number) as [number, number, number];
        const free = await freeKib(reach, workDir);
        const facts = {
          pg_dump: dump!.stdout.trim(),
          "server version": String(serverMajor),
          "database size": formatBytes(bytes),
          [`free in ${workDir}`]: formatBytes(free * 1024),
          // libpq before 16 ignores require_auth: say so rather than promise what is not enforced.
          "SCRAM required": !s.pgRequireScram
            ? "no (this source opted out)"
            : dumpMajor >= 16
              ? "yes"
              : `asked, but not enforced by pg_dump ${dumpMajor} (PostgreSQL 16 or later client tools enforce it)`,
        };
        if (dumpMajor < serverMajor)
          return {
            ok: false,
            message: `pg_dump ${dumpMajor} on ${reach.label} cannot dump PostgreSQL ${serverMajor}: install postgresql-client-${serverMajor}.`,
            facts,
          };
        if (unreadable > 0)
          return {
            ok: false,
            message: `User ${s.pgUser} cannot read ${formatCount(unreadable, "table")} of ${s.pgDatabase}: grant SELECT (or use the pg_read_all_data role).`,
            facts,
          };
        let clusterBytes: number | undefined;
        if (s.kind === "postgres_cluster") {
          const c = await runCommand(
            reach,
            ["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", OWN_SESSION + CLUSTER_LIST],
            {
              env: pgConnectionEnv({ ...sourceConnection(t, s), hostaddr }),
            },
          );
          if (c.code !== 0)
            return { ok: false, message: `Could not list the databases: ${c.stderrTail.trim().split("\n")[0]}`, facts };
          const cluster = clusterDatabases(c.stdout, {
            name: s.name,
            user: s.pgUser!,
            excludes: s.excludes ?? [],
            rolePasswords: s.pgRolePasswords,
          });
          clusterBytes = cluster.included.reduce((n, d) => n + d.bytes, 0);
          Object.assign(facts, {
            databases: cluster.included.map((d) => d.name).join(", ") || "none",
            "databases' size": formatBytes(clusterBytes),
            ...(cluster.missing.length && { "excluded but not on this PostgreSQL": cluster.missing.join(", ") }),
          });
          if (cluster.authidMissing) return { ok: false, message: cluster.authidMissing, facts };
          if (!cluster.included.length)
            return { ok: false, message: "Every database is excluded: nothing is left to back up.", facts };
        }
        // The rule a backup's own check applies, over every database it would dump.
        const room = freeSpaceProblem({
          dir: workDir,
          server: reach.label,
          freeBytes: free * 1024,
          databaseBytes: clusterBytes ?? bytes,
        });
        if (room) return { ok: false, message: room, facts };
        return {
          ok: true,
          message:
            s.kind === "postgres_cluster"
              ? `Readable: ${facts.databases} on PostgreSQL ${serverMajor}, pg_dump ${dumpMajor}; ${formatBytes(free * 1024)} free in ${workDir}.`
              : `Readable: ${s.pgDatabase} (${formatBytes(bytes)}) on PostgreSQL ${serverMajor}, pg_dump ${dumpMajor}; ${formatBytes(free * 1024)} free in ${workDir}.`,
          facts,
        };
      },
      TEST_DEADLINE,
    ),
  );
  await recordCheck(sources, t, sourceId, result);
  return result;
}

async function checkDirectories(reach: Reach, paths: string[]): Promise<CheckResult> {
  // Paths are arguments of a fixed script, never part of it.
  const probe = await runCommand(reach, [
    "sh",
    "-c",
    'for p do if [ ! -e "$p" ]; then echo "missing $p"; elif [ -L "$p" ]; then echo "link $p"; elif [ ! -d "$p" ]; then echo "notdir $p"; elif [ ! -r "$p" ] || [ ! -x "$p" ]; then echo "unreadable $p"; fi; done',
    "sh",
    ...paths,
  ]);
  const problems = probe.stdout.trim().split("\n").filter(Boolean);
  if (probe.code !== 0)
    return { ok: false, message: `Could not check the paths on ${reach.label}: ${probe.stderrTail.trim()}`, facts: {} };
  if (problems.length === 0)
    return {
      ok: true,
      message: `${paths.length === 1 ? "The path exists and is" : `All ${paths.length} paths exist and are`} readable on ${reach.label}.`,
      facts: { paths: paths.join(", ") },
    };
  const words: Record<string, string> = {
    missing: "does not exist",
    notdir: "is not a directory",
    unreadable: "is not readable by the SSH user",
    link: LINK_PROBLEM,
  };
  const message = problems
    .map((line) => {
      const [what, ...rest] = line.split(" ");
      return `${rest.join(" ")} ${words[what!] ?? what}`;
    })
    .join("; ");
  return { ok: false, message: `On ${reach.label}: ${message}.`, facts: {} };
}

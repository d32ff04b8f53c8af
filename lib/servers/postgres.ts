import "server-only";

/** Where and as whom to connect; the password only ever travels in the environment. */
export interface PgConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  sslmode: string;
  password?: string;
  /** The address the guard checked for `host`: libpq connects to it instead of resolving again. */
  hostaddr?: string;
  /**
   * Send the password only through SCRAM (libpq 16+ `require_auth=scram-sha-256`): a server that
   * asks for it in clear text or as MD5 is refused, so a look-alike server cannot collect it.
   * On unless the source opted out (false).
   */
  requireScram?: boolean;
}

/**
 * Connection settings for psql / pg_dump as environment variables (sent over the SSH channel's
 * standard input, never on a command line). Never `-d`: libpq reads a database name containing
 * "=" or a URI there as a whole connection string, which would bypass the host checked here.
 */
export function pgConnectionEnv(c: PgConnection, appName = "coffer"): Record<string, string> {
  return {
    PGHOST: c.host,
    PGPORT: String(c.port),
    PGUSER: c.user,
    PGDATABASE: c.database,
    PGSSLMODE: c.sslmode || "prefer",
    PGCONNECT_TIMEOUT: "10",
    PGAPPNAME: appName,
    ...(c.password ? { PGPASSWORD: c.password } : {}),
    ...(c.hostaddr ? { PGHOSTADDR: c.hostaddr } : {}),
    ...(c.requireScram !== false && { PGREQUIREAUTH: "scram-sha-256" }),
  };
}

/**
 * What Coffer's own psql sessions run first. Functions then resolve in pg_catalog only, so a
 * database owner's `ALTER DATABASE … SET search_path = evil, pg_catalog` cannot put a function of
 * theirs in the way of Coffer's user (pg_dump and pg_dumpall guard themselves the same way,
 * CVE-2018-1058), and no timeout set on the role or database cuts a long count short or ends the
 * session holding a dump's snapshot. SET, unlike a function call, cannot be shadowed; and as SQL
 * rather than connection options (PGOPTIONS) it passes a connection pooler such as PgBouncer.
 * A dump being loaded sets what it needs itself.
 */
export const OWN_SESSION =
  "SET search_path = pg_catalog; SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0;\n";

/** pg_dump's major version (e.g. 15) from `pg_dump (PostgreSQL) 15.18 (Debian …)`. */
export function pgDumpMajor(versionLine: string): number | undefined {
  const m = versionLine.match(/\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/);
  return m ? Number(m[1]) : undefined;
}

/** Turns psql's stderr into what the user should fix. */
export function explainPsqlError(
  stderr: string,
  s: { pgHost: string; pgPort: number; pgDatabase: string; pgUser: string },
): string {
  const where = `${s.pgHost}:${s.pgPort}`;
  if (/authentication method requirement/i.test(stderr))
    return `PostgreSQL at ${where} did not use SCRAM authentication for ${s.pgUser}, and this source requires it: set password_encryption = scram-sha-256, set the user's password again and use scram-sha-256 in pg_hba.conf — or turn off "Require SCRAM" in the source's settings (for peer, trust or certificate authentication).`;
  if (/password authentication failed|no password supplied|authentication failed/i.test(stderr))
    return `PostgreSQL at ${where} refused user ${s.pgUser}: check the user name and password.`;
  if (/database ".*" does not exist/i.test(stderr)) return `Database ${s.pgDatabase} does not exist on ${where}.`;
  if (/role ".*" does not exist/i.test(stderr)) return `User ${s.pgUser} does not exist on ${where}.`;
  if (/permission denied for database|must have CONNECT/i.test(stderr))
    return `User ${s.pgUser} may not connect to ${s.pgDatabase}: grant CONNECT on the database.`;
  if (/no pg_hba\.conf entry/i.test(stderr))
    return `PostgreSQL at ${where} does not accept ${s.pgUser} from this server: add a pg_hba.conf entry.`;
  if (
    /Connection refused|could not connect|No such file or directory|timeout expired|could not translate host name/i.test(
      stderr,
    )
  )
    return `Nothing answers as PostgreSQL at ${where} from the server: check the host, port and that PostgreSQL is running.`;
  if (/SSL/i.test(stderr)) return `PostgreSQL at ${where} failed the SSL requirement: ${stderr.trim().split("\n")[0]}`;
  return `psql failed: ${stderr.trim().split("\n")[0] ?? "unknown error"}`;
}

/** The databases a connection may dump with their owners, and whether it may read the roles' password hashes, as one line of JSON. */
export const CLUSTER_LIST = `SELECT json_build_object(
  'databases', (SELECT coalesce(json_agg(json_build_array(datname, pg_catalog.pg_get_userbyid(datdba),
      CASE WHEN has_database_privilege(oid, 'CONNECT') THEN pg_catalog.pg_database_size(oid) END) ORDER BY datname), '[]')
    FROM pg_catalog.pg_database WHERE NOT datistemplate AND datallowconn),
  'authid', has_table_privilege('pg_catalog.pg_authid', 'SELECT'))`;

/** Coffer's own restore and verification scratch databases: never part of a cluster's backup. */
const SCRATCH = /^coffer_(restore|verify|old)_/;

/**
 * What CLUSTER_LIST's answer means for a whole-cluster source: the databases it backs up (with
 * their sizes), the
 * excluded names not on the server, and (when it asks for password hashes its user may not read)
 * what to do about it.
 */
export function clusterDatabases(
  answer: string,
  c: { name: string; user: string; excludes: string[]; rolePasswords: boolean },
): { included: { name: string; owner: string; bytes: number }[]; missing: string[]; authidMissing?: string } {
  const answered = JSON.parse(answer.trim()) as { databases: [string, string, number | null][]; authid: boolean };
  // A database its user may not connect to has no size here; its dump then fails and says so.
  const databases = answered.databases.map(([name, owner, bytes]) => ({ name, owner, bytes: bytes ?? 0 }));
  const excluded = new Set(c.excludes);
  return {
    included: databases.filter((d) => !excluded.has(d.name) && !SCRATCH.test(d.name)),
    missing: c.excludes.filter((d) => !databases.some((x) => x.name === d)),
    ...(c.rolePasswords &&
      !answered.authid && {
        authidMissing: `${c.name} includes the roles' password hashes, which needs SELECT on pg_catalog.pg_authid: ${c.user} does not have it. Connect as a superuser (or GRANT SELECT ON pg_catalog.pg_authid TO ${c.user}), or turn off "Include password hashes" in the source.`,
      }),
  };
}

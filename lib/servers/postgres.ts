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

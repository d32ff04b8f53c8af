import { describe, expect, it } from "vitest";
import { explainPsqlError, pgConnectionEnv, pgDumpMajor } from "./postgres";

const s = { pgHost: "db1", pgPort: 5432, pgDatabase: "shop", pgUser: "backup" };

describe("connection environment", () => {
  const c = { host: "db1", port: 5432, database: "shop", user: "backup", sslmode: "prefer", password: "pw" };
  it("requires SCRAM unless the source opted out", () => {
    expect(pgConnectionEnv(c).PGREQUIREAUTH).toBe("scram-sha-256");
    expect(pgConnectionEnv({ ...c, requireScram: true }).PGREQUIREAUTH).toBe("scram-sha-256");
    expect(pgConnectionEnv({ ...c, requireScram: false })).not.toHaveProperty("PGREQUIREAUTH");
  });
  it("says what to do when the server does not use SCRAM", () => {
    expect(
      explainPsqlError(
        'psql: error: connection to server at "db1" failed: authentication method requirement "scram-sha-256" failed: server requested a cleartext password',
        s,
      ),
    ).toMatch(/^PostgreSQL at db1:5432 did not use SCRAM authentication for backup.*turn off "Require SCRAM"/);
  });
});

describe("source checks", () => {
  it("reads pg_dump's major version", () => {
    expect(pgDumpMajor("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)")).toBe(15);
    expect(pgDumpMajor("pg_dump (PostgreSQL) 9.6.24")).toBe(9);
    expect(pgDumpMajor("sh: pg_dump: not found")).toBeUndefined();
  });

  it.each([
    [
      'psql: error: connection to server at "db1" (10.0.0.5), port 5432 failed: FATAL:  password authentication failed for user "backup"',
      "PostgreSQL at db1:5432 refused user backup: check the user name and password.",
    ],
    [
      'psql: error: connection to server on socket "/tmp/.s.PGSQL.5432" failed: FATAL:  database "shop" does not exist',
      "Database shop does not exist on db1:5432.",
    ],
    ['FATAL:  role "backup" does not exist', "User backup does not exist on db1:5432."],
    [
      'FATAL:  permission denied for database "shop"\nDETAIL:  User does not have CONNECT privilege.',
      "User backup may not connect to shop: grant CONNECT on the database.",
    ],
    [
      'FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "backup", database "shop", no encryption',
      "PostgreSQL at db1:5432 does not accept backup from this server: add a pg_hba.conf entry.",
    ],
    [
      'psql: error: connection to server at "db1" (10.0.0.5), port 5432 failed: Connection refused',
      "Nothing answers as PostgreSQL at db1:5432 from the server: check the host, port and that PostgreSQL is running.",
    ],
    ["psql: error: something else entirely\nsecond line", "psql failed: psql: error: something else entirely"],
  ])("explains %s", (stderr, message) => {
    expect(explainPsqlError(stderr, s)).toBe(message);
  });
});

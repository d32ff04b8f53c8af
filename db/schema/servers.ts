import { boolean, foreignKey, index, integer, jsonb, pgEnum, pgTable, text, unique } from "drizzle-orm/pg-core";
import { createdAt, idColumn, secretColumn, timestampColumn } from "../columns";
import { teams } from "./teams";

export const serverKindEnum = pgEnum("server_kind", ["ssh", "local"]);

const checkColumns = () => ({
  checkedAt: timestampColumn("checked_at"),
  checkOk: boolean("check_ok"),
  checkMessage: text("check_message"),
});

/** A machine Coffer reaches over SSH, or the Coffer host itself ("local"). */
export const servers = pgTable(
  "servers",
  {
    id: idColumn("srv"),
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    kind: serverKindEnum("kind").notNull(),
    host: text("host"),
    port: integer("port"),
    username: text("username"),
    privateKeyEnc: secretColumn("private_key_enc"),
    passphraseEnc: secretColumn("passphrase_enc"),
    passwordEnc: secretColumn("password_enc"),
    /** Pinned on the first successful connection ("SHA256:…"); a different key is refused. */
    hostKey: text("host_key"),
    /** A different key the server presented, waiting for an admin to accept it. */
    offeredHostKey: text("offered_host_key"),
    /** Where temporary files of a run live (a private folder is made inside it per run). */
    workDir: text("work_dir").notNull().default("/var/tmp"),
    ...checkColumns(),
    createdAt: createdAt(),
  },
  (t) => [unique("servers_team_id_key").on(t.teamId, t.id), unique("servers_team_name_key").on(t.teamId, t.name)],
);

export const sourceKindEnum = pgEnum("source_kind", ["postgres", "directory", "postgres_cluster"]);

/**
 * What to back up on a server: a PostgreSQL database, directories, or every database of a PostgreSQL
 * cluster with its roles and tablespaces ("postgres_cluster": `pg_database` is the maintenance
 * database it connects to, `excludes` the databases it leaves out).
 */
export const sources = pgTable(
  "sources",
  {
    id: idColumn("src"),
    teamId: text("team_id").notNull(),
    serverId: text("server_id").notNull(),
    kind: sourceKindEnum("kind").notNull(),
    name: text("name").notNull(),
    pgHost: text("pg_host"),
    pgPort: integer("pg_port"),
    pgDatabase: text("pg_database"),
    pgUser: text("pg_user"),
    pgPasswordEnc: secretColumn("pg_password_enc"),
    pgSslmode: text("pg_sslmode"),
    // libpq's require_auth=scram-sha-256: the password is never sent to a server that asks for it
    // in clear text or as MD5. Off only when the source opts out.
    pgRequireScram: boolean("pg_require_scram").notNull().default(true),
    /** postgres_cluster: the roles' password hashes go into `postgres/globals.sql` (off: --no-role-passwords). */
    pgRolePasswords: boolean("pg_role_passwords").notNull().default(false),
    paths: jsonb("paths").$type<string[]>(),
    excludes: jsonb("excludes").$type<string[]>(),
    ...checkColumns(),
    createdAt: createdAt(),
  },
  (t) => [
    unique("sources_team_id_key").on(t.teamId, t.id),
    unique("sources_server_name_key").on(t.serverId, t.name),
    // Composite: the database itself refuses a source on another team's server.
    foreignKey({
      name: "sources_server_fk",
      columns: [t.teamId, t.serverId],
      foreignColumns: [servers.teamId, servers.id],
    }).onDelete("cascade"),
    index("sources_server_idx").on(t.teamId, t.serverId),
  ],
);

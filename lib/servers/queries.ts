import "server-only";
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { servers, sources } from "@/db/schema";
import { db, type Transaction } from "../db";
import { AppError, notFound } from "../errors";
import { inTeam, requireRow, type TeamContext } from "../teams/context";
import { databaseKinds, isDatabaseKind } from "./schemas";

// What pages and responses may see: never a *_enc column, only whether one is set.
const serverColumns = {
  id: servers.id,
  name: servers.name,
  kind: servers.kind,
  host: servers.host,
  port: servers.port,
  username: servers.username,
  hasPrivateKey: sql<boolean>`${servers.privateKeyEnc} is not null`,
  hasPassphrase: sql<boolean>`${servers.passphraseEnc} is not null`,
  hasPassword: sql<boolean>`${servers.passwordEnc} is not null`,
  hostKey: servers.hostKey,
  offeredHostKey: servers.offeredHostKey,
  workDir: servers.workDir,
  checkedAt: servers.checkedAt,
  checkOk: servers.checkOk,
  checkMessage: servers.checkMessage,
  createdAt: servers.createdAt,
};
export type ServerView = Awaited<ReturnType<typeof getServer>>;

export async function listServers(t: TeamContext) {
  const d = await db();
  // A join, not a correlated subquery: drizzle renders columns inside sql`` unqualified, so a
  // subquery's "server_id = id" compared the source with itself and counted nothing.
  return d
    .select({ ...serverColumns, sourceCount: sql<number>`count(${sources.id})::int` })
    .from(servers)
    .leftJoin(sources, and(eq(sources.teamId, servers.teamId), eq(sources.serverId, servers.id)))
    .where(inTeam(servers, t))
    .groupBy(servers.id)
    .orderBy(asc(servers.name));
}

export async function getServer(t: TeamContext, serverId: string) {
  const d = await db();
  const [row] = await d
    .select(serverColumns)
    .from(servers)
    .where(inTeam(servers, t, eq(servers.id, serverId)));
  return requireRow(row, "That server");
}

const sourceColumns = {
  id: sources.id,
  serverId: sources.serverId,
  kind: sources.kind,
  name: sources.name,
  pgHost: sources.pgHost,
  pgPort: sources.pgPort,
  pgDatabase: sources.pgDatabase,
  pgUser: sources.pgUser,
  hasPgPassword: sql<boolean>`${sources.pgPasswordEnc} is not null`,
  pgSslmode: sources.pgSslmode,
  pgRequireScram: sources.pgRequireScram,
  pgRolePasswords: sources.pgRolePasswords,
  paths: sources.paths,
  excludes: sources.excludes,
  checkedAt: sources.checkedAt,
  checkOk: sources.checkOk,
  checkMessage: sources.checkMessage,
};
export type SourceView = Awaited<ReturnType<typeof getSource>>;

export async function listSources(t: TeamContext, serverId: string) {
  const d = await db();
  return d
    .select(sourceColumns)
    .from(sources)
    .where(inTeam(sources, t, eq(sources.serverId, serverId)))
    .orderBy(asc(sources.name));
}

export async function getSource(t: TeamContext, sourceId: string) {
  const d = await db();
  const [row] = await d
    .select(sourceColumns)
    .from(sources)
    .where(inTeam(sources, t, eq(sources.id, sourceId)));
  return requireRow(row, "That source");
}

/** Every PostgreSQL source of the team with its server: the connections a restore or verification can use. */
export async function listDatabaseConnections(t: TeamContext) {
  const d = await db();
  return d
    .select({
      id: sources.id,
      name: sources.name,
      serverId: sources.serverId,
      serverName: servers.name,
      pgHost: sources.pgHost,
      pgPort: sources.pgPort,
      pgUser: sources.pgUser,
      pgDatabase: sources.pgDatabase,
    })
    .from(sources)
    .innerJoin(servers, and(eq(servers.teamId, sources.teamId), eq(servers.id, sources.serverId)))
    .where(inTeam(sources, t, inArray(sources.kind, [...databaseKinds])))
    .orderBy(asc(servers.name), asc(sources.name));
}

/** A verification connection must be one of the team's PostgreSQL sources (on any server). */
export async function assertVerificationConnection(tx: Transaction, t: TeamContext, sourceId: string) {
  const [v] = await tx
    .select({ kind: sources.kind })
    .from(sources)
    .where(inTeam(sources, t, eq(sources.id, sourceId)));
  if (!v) throw notFound("That verification connection");
  if (!isDatabaseKind(v.kind))
    throw new AppError("VALIDATION", "Verification needs a PostgreSQL source's connection.", {
      verifySourceId: ["Choose a PostgreSQL source."],
    });
}

import "server-only";
import { and, count, eq, inArray, isNotNull, or } from "drizzle-orm";
import { backups, backupSources, restores, schedules, servers, sources } from "@/db/schema";
import { newId } from "@/db/columns";
import { recordAudit } from "../audit/record";
import { db, type Transaction } from "../db";
import { AppError, notFound } from "../errors";
import { schedulesUsing } from "../schedules/queries";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import { assertOutsideCofferData, sourceFolder } from "./coffer-data";
import { seal, underWay, uniqueName } from "./mutations";
import type { CreateSourceInput, UpdateSourceInput } from "./schemas";

function sourceValues(t: TeamContext, id: string, input: CreateSourceInput | UpdateSourceInput) {
  if (input.kind === "directory") {
    return {
      name: input.name,
      paths: input.paths,
      excludes: input.excludes,
      pgHost: null,
      pgPort: null,
      pgDatabase: null,
      pgUser: null,
      pgPasswordEnc: null,
      pgSslmode: null,
      pgRequireScram: true,
      pgRolePasswords: false,
    };
  }
  const cluster = input.kind === "postgres_cluster";
  return {
    name: input.name,
    pgHost: input.pgHost,
    pgPort: input.pgPort,
    pgDatabase: input.pgDatabase,
    pgUser: input.pgUser,
    pgSslmode: input.pgSslmode,
    pgRequireScram: input.pgRequireScram !== false,
    paths: null,
    excludes: cluster ? input.excludes : null,
    pgRolePasswords: cluster && input.pgRolePasswords,
    ...(input.pgPassword !== undefined && {
      pgPasswordEnc: seal(t, "sources", "pg_password_enc", id, input.pgPassword),
    }),
  };
}

export async function createSource(t: TeamContext, input: CreateSourceInput) {
  assertRole(t, "member");
  const id = newId("src");
  const d = await db();
  return uniqueName("source on this server", () =>
    d.transaction(async (tx) => {
      const [server] = await tx
        .select({ kind: servers.kind })
        .from(servers)
        .where(inTeam(servers, t, eq(servers.id, input.serverId)));
      if (!server) throw notFound("That server");
      if (input.kind === "directory") await assertOutsideCofferData(server.kind, input.paths, sourceFolder);
      await tx
        .insert(sources)
        .values({ id, teamId: t.id, serverId: input.serverId, kind: input.kind, ...sourceValues(t, id, input) });
      await recordAudit(tx, t, {
        action: "source.created",
        target: { type: "source", id, label: input.name },
        details: { kind: input.kind, serverId: input.serverId },
      });
      return { id };
    }),
  );
}

/**
 * The stored password goes wherever the host, port and SSL mode say (and as SCRAM only, unless
 * the source opted out): changing any of these must come with the password, or a member could
 * point the source at their own server, press Test, and collect it.
 */
async function assertPasswordFollows(tx: Transaction, t: TeamContext, input: UpdateSourceInput) {
  if (input.kind === "directory" || input.pgPassword !== undefined) return;
  const [current] = await tx
    .select({
      pgHost: sources.pgHost,
      pgPort: sources.pgPort,
      pgSslmode: sources.pgSslmode,
      pgRequireScram: sources.pgRequireScram,
      hasPassword: isNotNull(sources.pgPasswordEnc),
    })
    .from(sources)
    .where(inTeam(sources, t, eq(sources.id, input.sourceId), eq(sources.kind, input.kind)))
    .for("update");
  if (!current?.hasPassword) return;
  const moved =
    current.pgHost !== input.pgHost ||
    current.pgPort !== input.pgPort ||
    current.pgSslmode !== input.pgSslmode ||
    (current.pgRequireScram && input.pgRequireScram === false);
  if (moved)
    throw new AppError(
      "VALIDATION",
      "Changing the host, port, SSL mode or SCRAM requirement sends the stored password somewhere new: enter the password again.",
      { pgPassword: ["Enter the password again."] },
    );
}

const kindNames: Record<string, string> = {
  postgres: "a PostgreSQL database",
  postgres_cluster: "a whole PostgreSQL cluster",
  directory: "folders",
};

/** A source backs up one kind of thing for good: its backups and schedules are that kind's. */
async function assertSameKind(tx: Transaction, t: TeamContext, input: UpdateSourceInput) {
  const [current] = await tx
    .select({ kind: sources.kind })
    .from(sources)
    .where(inTeam(sources, t, eq(sources.id, input.sourceId)))
    .for("update");
  if (!current) throw notFound("That source");
  if (current.kind !== input.kind) {
    const message = `A source's kind cannot change: this one is ${current.kind} (${kindNames[current.kind] ?? current.kind}). Send kind ${current.kind}, or add a new ${input.kind} source and delete this one.`;
    throw new AppError("VALIDATION", message, { kind: [message] });
  }
}

export async function updateSource(t: TeamContext, input: UpdateSourceInput) {
  assertRole(t, "member");
  const d = await db();
  return uniqueName("source on this server", () =>
    d.transaction(async (tx) => {
      await assertSameKind(tx, t, input);
      await assertPasswordFollows(tx, t, input);
      if (input.kind === "directory") {
        const [server] = await tx
          .select({ kind: servers.kind })
          .from(sources)
          .innerJoin(servers, and(eq(servers.teamId, sources.teamId), eq(servers.id, sources.serverId)))
          .where(inTeam(sources, t, eq(sources.id, input.sourceId)));
        if (server) await assertOutsideCofferData(server.kind, input.paths, sourceFolder);
      }
      const [row] = await tx
        .update(sources)
        .set(sourceValues(t, input.sourceId, input))
        .where(inTeam(sources, t, eq(sources.id, input.sourceId), eq(sources.kind, input.kind)))
        .returning({ id: sources.id });
      if (!row) throw notFound("That source");
      await recordAudit(tx, t, {
        action: "source.updated",
        target: { type: "source", id: row.id, label: input.name },
        details: {
          replacedSecrets: input.kind !== "directory" && input.pgPassword ? ["password"] : [],
          ...(input.kind !== "directory" && { requireScram: input.pgRequireScram !== false }),
          ...(input.kind === "postgres_cluster" && { rolePasswords: input.pgRolePasswords }),
        },
      });
      return { id: row.id };
    }),
  );
}

export async function deleteSource(t: TeamContext, sourceId: string) {
  assertRole(t, "member");
  const usedBy = await schedulesUsing(t, { sourceId });
  if (usedBy.length)
    throw new AppError(
      "CONFLICT",
      `Schedule ${usedBy.join(", ")} still backs up this source. Remove it from the schedule first.`,
    );
  const d = await db();
  await d.transaction(async (tx) => {
    const [busy] = await tx
      .select({ n: count() })
      .from(restores)
      .where(
        inTeam(
          restores,
          t,
          or(eq(restores.connectionSourceId, sourceId), eq(restores.scratchSourceId, sourceId)),
          underWay,
        ),
      );
    if (busy!.n > 0)
      throw new AppError(
        "CONFLICT",
        "A restore or verification reaches its database through this source and is running or still has a scratch database to drop. Wait for it to finish (or cancel it), then delete the source.",
      );
    const [running] = await tx
      .select({ n: count() })
      .from(backupSources)
      .innerJoin(backups, and(eq(backups.teamId, backupSources.teamId), eq(backups.id, backupSources.backupId)))
      .where(
        inTeam(backupSources, t, eq(backupSources.sourceId, sourceId), inArray(backups.status, ["queued", "running"])),
      );
    if (running!.n > 0)
      throw new AppError(
        "CONFLICT",
        "A backup of this source is queued or running. Wait for it to finish (or cancel it), then delete the source.",
      );
    // What finished keeps its history without the source; schedules verify over each database's own.
    await tx
      .update(restores)
      .set({ connectionSourceId: null })
      .where(inTeam(restores, t, eq(restores.connectionSourceId, sourceId)));
    await tx
      .update(restores)
      .set({ scratchSourceId: null })
      .where(inTeam(restores, t, eq(restores.scratchSourceId, sourceId)));
    await tx
      .update(schedules)
      .set({ verifySourceId: null })
      .where(inTeam(schedules, t, eq(schedules.verifySourceId, sourceId)));
    await tx
      .update(backups)
      .set({ verifySourceId: null })
      .where(inTeam(backups, t, eq(backups.verifySourceId, sourceId)));
    const [row] = await tx
      .delete(sources)
      .where(inTeam(sources, t, eq(sources.id, sourceId)))
      .returning({ name: sources.name });
    if (!row) throw notFound("That source");
    await recordAudit(tx, t, { action: "source.deleted", target: { type: "source", id: sourceId, label: row.name } });
  });
}

import "server-only";
import { and, count, countDistinct, eq, inArray, isNotNull, isNull, ne, or } from "drizzle-orm";
import { backupLocations, backups, restores, schedules, servers, sources } from "@/db/schema";
import { newId } from "@/db/columns";
import { recordAudit } from "../audit/record";
import { sealSecret } from "../crypto/secret-box";
import { db, pgCode } from "../db";
import { env } from "../env";
import { AppError, notFound } from "../errors";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import { roleAtLeast } from "../teams/roles";
import { assertOutsideCofferData, workFolder } from "./coffer-data";
import type { CreateServerInput, UpdateServerInput } from "./schemas";
import { formatCount } from "../format";

export const seal = (t: TeamContext, table: string, column: string, rowId: string, value: string | undefined) =>
  value === undefined ? undefined : sealSecret(value, { teamId: t.id, table, column, rowId });

const nameTaken = (what: string) =>
  new AppError("CONFLICT", `A ${what} with that name already exists; choose another name.`, {
    name: ["Already in use."],
  });

/** Postgres unique violations on our named constraints become a clear CONFLICT. */
export async function uniqueName<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (pgCode(err) === "23505") throw nameTaken(what);
    throw err;
  }
}

function assertLocalAllowed(kind: "ssh" | "local") {
  if (kind === "local" && !env().allowLocalServers) {
    throw new AppError(
      "VALIDATION",
      "This Coffer does not allow local servers. An operator can enable them with ALLOW_LOCAL_SERVERS=true.",
      { kind: ["Local servers are disabled."] },
    );
  }
}

function serverSecrets(t: TeamContext, id: string, input: CreateServerInput) {
  if (input.kind === "local") return { privateKeyEnc: null, passphraseEnc: null, passwordEnc: null };
  const key = input.authMethod === "key";
  return {
    privateKeyEnc: key ? seal(t, "servers", "private_key_enc", id, input.privateKey) : null,
    passphraseEnc: key ? seal(t, "servers", "passphrase_enc", id, input.passphrase) : null,
    passwordEnc: key ? null : seal(t, "servers", "password_enc", id, input.password),
  };
}

export async function createServer(t: TeamContext, input: CreateServerInput) {
  assertRole(t, "member");
  assertLocalAllowed(input.kind);
  await assertOutsideCofferData(input.kind, [input.workDir], workFolder);
  if (input.kind === "ssh" && input.authMethod === "key" && !input.privateKey) {
    throw new AppError("VALIDATION", "Paste the private key Coffer should use.", {
      privateKey: ["Required for key authentication."],
    });
  }
  if (input.kind === "ssh" && input.authMethod === "password" && !input.password) {
    throw new AppError("VALIDATION", "Enter the password Coffer should use.", {
      password: ["Required for password authentication."],
    });
  }
  const id = newId("srv");
  const d = await db();
  return uniqueName("server", () =>
    d.transaction(async (tx) => {
      await tx.insert(servers).values({
        id,
        teamId: t.id,
        name: input.name,
        kind: input.kind,
        workDir: input.workDir,
        ...(input.kind === "ssh" ? { host: input.host, port: input.port, username: input.username } : {}),
        ...serverSecrets(t, id, input),
      });
      await recordAudit(tx, t, {
        action: "server.created",
        target: { type: "server", id, label: input.name },
        details: {
          kind: input.kind,
          ...(input.kind === "ssh" && { host: input.host, port: input.port, username: input.username }),
        },
      });
      return { id };
    }),
  );
}

/**
 * Secret fields left empty keep their stored value. The pinned host key stays when the host or
 * port changes: a different machine then presents a different key, which an admin must accept —
 * editing the address is not a way around that.
 */
export async function updateServer(t: TeamContext, input: UpdateServerInput) {
  assertRole(t, "member");
  assertLocalAllowed(input.kind);
  await assertOutsideCofferData(input.kind, [input.workDir], workFolder);
  const d = await db();
  return uniqueName("server", () =>
    d.transaction(async (tx) => {
      const [current] = await tx
        .select({
          kind: servers.kind,
          host: servers.host,
          port: servers.port,
          hostKey: servers.hostKey,
          hasKey: isNotNull(servers.privateKeyEnc),
          hasPassword: isNotNull(servers.passwordEnc),
        })
        .from(servers)
        .where(inTeam(servers, t, eq(servers.id, input.serverId)))
        .for("update");
      if (!current) throw notFound("That server");
      if (current.kind !== input.kind)
        throw new AppError("VALIDATION", "A server's kind cannot change; add a new server instead.");
      const changes: Partial<typeof servers.$inferInsert> = { name: input.name, workDir: input.workDir };
      if (input.kind === "ssh") {
        // A server whose key is not pinned yet trusts the first key a new address shows, and then
        // gets the sources' database passwords: only an admin (who may accept any key) moves it.
        const moved = current.host !== input.host || current.port !== input.port;
        if (moved && !current.hostKey && t.role !== "system" && !roleAtLeast(t.role, "admin"))
          throw new AppError(
            "FORBIDDEN",
            "This server's host key is not pinned yet, so only an admin can change its host or port. Test its connection first: that pins the key, and a new address then needs an admin to accept the new key.",
          );
        Object.assign(changes, { host: input.host, port: input.port, username: input.username });
        const secrets = serverSecrets(t, input.serverId, input);
        if (input.authMethod === "key") {
          if (!input.privateKey && !current.hasKey)
            throw new AppError("VALIDATION", "Paste the private key Coffer should use.", {
              privateKey: ["Required for key authentication."],
            });
          // A new key replaces the passphrase too (none given: the key has none); a passphrase alone updates the stored key's.
          Object.assign(
            changes,
            { passwordEnc: null },
            input.privateKey
              ? { privateKeyEnc: secrets.privateKeyEnc, passphraseEnc: secrets.passphraseEnc ?? null }
              : input.passphrase
                ? { passphraseEnc: secrets.passphraseEnc }
                : {},
          );
        } else {
          if (!input.password && !current.hasPassword)
            throw new AppError("VALIDATION", "Enter the password Coffer should use.", {
              password: ["Required for password authentication."],
            });
          // The stored password goes wherever host and port say (a server whose key was never
          // pinned trusts the first key it sees): a new address needs the password again, or a
          // member could point the server at their own sshd, press Test, and collect it.
          if (!input.password && moved)
            throw new AppError(
              "VALIDATION",
              "Changing the host or port sends the stored password to the new address: enter the password again.",
              { password: ["Enter the password again."] },
            );
          Object.assign(
            changes,
            { privateKeyEnc: null, passphraseEnc: null },
            input.password ? { passwordEnc: secrets.passwordEnc } : {},
          );
        }
      }
      await tx
        .update(servers)
        .set(changes)
        .where(inTeam(servers, t, eq(servers.id, input.serverId)));
      const replaced =
        input.kind === "ssh"
          ? [input.privateKey && "private key", input.passphrase && "passphrase", input.password && "password"].filter(
              Boolean,
            )
          : [];
      const moved =
        input.kind === "ssh" && (current.host !== input.host || current.port !== input.port)
          ? { from: `${current.host}:${current.port}`, to: `${input.host}:${input.port}` }
          : undefined;
      await recordAudit(tx, t, {
        action: "server.updated",
        target: { type: "server", id: input.serverId, label: input.name },
        details: { replacedSecrets: replaced, ...(moved && { address: moved }) },
      });
      return { id: input.serverId };
    }),
  );
}

/** Restores that still need their server and source: running, or with a scratch database to drop. */
export const underWay = or(
  inArray(restores.status, ["queued", "running"]),
  and(isNotNull(restores.scratchDatabase), isNull(restores.scratchDroppedAt)),
);

export async function deleteServer(t: TeamContext, serverId: string) {
  assertRole(t, "member");
  const d = await db();
  await d
    .transaction(async (tx) => {
      // Failed and cancelled runs go with the server; stored backups must not be lost track of.
      const [held] = await tx
        .select({ n: count() })
        .from(backups)
        .where(
          inTeam(
            backups,
            t,
            eq(backups.serverId, serverId),
            inArray(backups.status, ["queued", "running", "succeeded", "trashed"]),
          ),
        );
      if (held!.n > 0)
        throw new AppError(
          "CONFLICT",
          `This server has ${formatCount(held!.n, "backup")} stored, in the trash or running; deleting it would lose track of them. Delete those backups (and empty them from the trash) first.`,
        );
      // Ended runs whose copies are still to be deleted from storage (retention's expired copies,
      // what failed runs left): the retries need their rows, which go with the server.
      const [undeleted] = await tx
        .select({ n: countDistinct(backups.id) })
        .from(backups)
        .innerJoin(
          backupLocations,
          and(
            eq(backupLocations.teamId, backups.teamId),
            eq(backupLocations.backupId, backups.id),
            ne(backupLocations.status, "deleted"),
          ),
        )
        .where(inTeam(backups, t, eq(backups.serverId, serverId)));
      if (undeleted!.n > 0)
        throw new AppError(
          "CONFLICT",
          `${formatCount(undeleted!.n, "ended backup")} of this server still ${undeleted!.n === 1 ? "has" : "have"} objects in storage that Coffer could not delete yet (it tries again: retention daily, failed runs every 10 minutes); deleting the server now would leave them there for good. Wait for that, or fix the destination (the backup's page says what failed), then delete the server.`,
        );
      const [busy] = await tx
        .select({ n: count() })
        .from(restores)
        .where(inTeam(restores, t, eq(restores.serverId, serverId), underWay));
      if (busy!.n > 0)
        throw new AppError(
          "CONFLICT",
          "A restore or verification on this server is running or still has a scratch database to drop. Wait for it to finish (or cancel it), then delete the server.",
        );
      // Schedules of other servers verifying over one of its sources go back to each database's own.
      await tx
        .update(schedules)
        .set({ verifySourceId: null })
        .where(
          inTeam(
            schedules,
            t,
            inArray(
              schedules.verifySourceId,
              tx
                .select({ id: sources.id })
                .from(sources)
                .where(inTeam(sources, t, eq(sources.serverId, serverId))),
            ),
          ),
        );
      await tx
        .update(backups)
        .set({ verifySourceId: null })
        .where(
          inTeam(
            backups,
            t,
            inArray(
              backups.verifySourceId,
              tx
                .select({ id: sources.id })
                .from(sources)
                .where(inTeam(sources, t, eq(sources.serverId, serverId))),
            ),
          ),
        );
      const [row] = await tx
        .delete(servers)
        .where(inTeam(servers, t, eq(servers.id, serverId)))
        .returning({ name: servers.name });
      if (!row) throw notFound("That server");
      await recordAudit(tx, t, { action: "server.deleted", target: { type: "server", id: serverId, label: row.name } });
    })
    .catch((err: unknown) => {
      if (pgCode(err) === "23503")
        throw new AppError(
          "CONFLICT",
          "A storage destination still uses this server's backup directory. Delete that destination first.",
        );
      throw err;
    });
}

/** Trusts the key the server now presents. The admin confirms the exact fingerprint they were shown. */
export async function acceptHostKey(t: TeamContext, serverId: string, fingerprint: string) {
  assertRole(t, "admin");
  const d = await db();
  await d.transaction(async (tx) => {
    const [row] = await tx
      .update(servers)
      .set({ hostKey: fingerprint, offeredHostKey: null })
      .where(inTeam(servers, t, eq(servers.id, serverId), eq(servers.offeredHostKey, fingerprint)))
      .returning({ name: servers.name });
    if (!row)
      throw new AppError(
        "NOT_FOUND",
        "That server is not waiting for a new host key (or it presented another one since). Test the connection again.",
      );
    await recordAudit(tx, t, {
      action: "server.host_key_accepted",
      target: { type: "server", id: serverId, label: row.name },
      details: { fingerprint },
    });
  });
}

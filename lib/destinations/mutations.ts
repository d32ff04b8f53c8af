import "server-only";
import { count, desc, eq } from "drizzle-orm";
import { backupLocations, servers, storageDestinations } from "@/db/schema";
import { newId } from "@/db/columns";
import { recordAudit } from "../audit/record";
import { db } from "../db";
import { AppError, asAppError, notFound } from "../errors";
import { pgCode } from "../db";
import { schedulesUsing } from "../schedules/queries";
import { normalizePrefix } from "../storage/common";
import { assertOutsideCofferData, backupDirectory } from "../servers/coffer-data";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import { guardEndpoints, splitFields, storageConfig, tierClasses, type Secrets } from "./config";
import { openCredentials, sealCredentials } from "./credentials";
import { withLoadedDestination } from "./use";
import type { CreateDestinationInput, UpdateDestinationInput } from "./schemas";

type DestinationRow = typeof storageDestinations.$inferSelect;
import { formatCount } from "../format";

/** Validates everything a destination needs (provider fields, classes, endpoints, server) and returns its row values. */
async function rowValues(t: TeamContext, id: string, input: CreateDestinationInput, storedSecrets: Secrets) {
  const { settings, secrets: typed } = splitFields(input.kind, input);
  const secrets = { ...storedSecrets, ...typed };
  // Refused here as Test would refuse it, so a folder like "../escape" is never saved.
  normalizePrefix(settings.prefix as string | undefined);
  if (input.kind === "server") {
    if (!input.serverId)
      throw new AppError("VALIDATION", "Choose the server whose directory stores the backups.", {
        serverId: ["Choose a server."],
      });
    if (!input.path)
      throw new AppError("VALIDATION", "Enter the backup directory on that server.", {
        path: ["Enter an absolute path."],
      });
    const d = await db();
    const [server] = await d
      .select({ kind: servers.kind })
      .from(servers)
      .where(inTeam(servers, t, eq(servers.id, input.serverId)));
    if (!server) throw notFound("That server");
    await assertOutsideCofferData(server.kind, [input.path], backupDirectory);
    Object.assign(settings, { path: input.path });
  } else {
    await guardEndpoints(storageConfig(t.id, input.kind, settings, secrets));
  }
  return {
    name: input.name,
    kind: input.kind,
    settings,
    serverId: input.kind === "server" ? input.serverId! : null,
    credentialsEnc: sealCredentials(t, id, secrets),
    credentialFields: Object.keys(secrets).sort(),
    ...tierClasses(input.kind, input),
  };
}

function conflictOnName(err: unknown): never {
  if (pgCode(err) === "23505")
    throw new AppError("CONFLICT", "A destination with that name already exists; choose another name.", {
      name: ["Already in use."],
    });
  throw err;
}

export async function createDestination(t: TeamContext, input: CreateDestinationInput) {
  assertRole(t, "admin");
  const id = newId("dst");
  const values = await rowValues(t, id, input, {});
  const d = await db();
  await d
    .transaction(async (tx) => {
      await tx.insert(storageDestinations).values({ id, teamId: t.id, ...values });
      await recordAudit(tx, t, {
        action: "destination.created",
        target: { type: "destination", id, label: input.name },
        details: { kind: input.kind, settings: values.settings },
      });
    })
    .catch(conflictOnName);
  return { id };
}

/** Secret fields left empty keep the stored ones; the kind cannot change. */
export async function updateDestination(t: TeamContext, input: UpdateDestinationInput) {
  assertRole(t, "admin");
  const d = await db();
  const [current] = await d
    .select({
      kind: storageDestinations.kind,
      settings: storageDestinations.settings,
      serverId: storageDestinations.serverId,
      credentialsEnc: storageDestinations.credentialsEnc,
    })
    .from(storageDestinations)
    .where(inTeam(storageDestinations, t, eq(storageDestinations.id, input.destinationId)));
  if (!current) throw notFound("That destination");
  if (current.kind !== input.kind)
    throw new AppError("VALIDATION", "A destination's kind cannot change; add a new destination instead.");
  // Left out of a replace (a client rotating keys), path-style stays as stored: its default is for new destinations.
  const stored = current.settings.forcePathStyle;
  if (
    input.kind === "s3" &&
    !("forcePathStyle" in input && input.forcePathStyle !== undefined) &&
    typeof stored === "boolean"
  )
    input = { ...input, forcePathStyle: stored };
  // Stored credentials only ever go where they went before: changing where they are sent needs
  // them typed again, so nobody can point them at a server of their own to capture them.
  const typed = splitFields(input.kind, input);
  const movedTo = ["endpoint", "apiEndpoint", "accountName", "bucket", "container"].find(
    (f) => (current.settings[f] ?? "") !== (typed.settings[f] ?? ""),
  );
  if (movedTo && Object.keys(typed.secrets).length === 0 && current.credentialsEnc) {
    throw new AppError("VALIDATION", `Changing the ${movedTo} sends the credentials somewhere new: enter them again.`, {
      [movedTo]: ["Re-enter the credentials below to change this."],
    });
  }
  const values = await rowValues(
    t,
    input.destinationId,
    input,
    openCredentials(t, input.destinationId, current.credentialsEnc),
  );
  const relocated =
    [...LOCATION_FIELDS].some((f) => (current.settings[f] ?? "") !== (values.settings[f] ?? "")) ||
    ACCOUNT_SECRETS.some((f) => f in typed.secrets);
  if (relocated || current.serverId !== values.serverId) await assertCopiesThere(t, input.destinationId, values);
  await d
    .transaction(async (tx) => {
      const [row] = await tx
        .update(storageDestinations)
        .set({ ...values, checkedAt: null, checkOk: null, checkMessage: null })
        .where(inTeam(storageDestinations, t, eq(storageDestinations.id, input.destinationId)))
        .returning({ id: storageDestinations.id });
      if (!row) throw notFound("That destination");
      const replaced = Object.keys(typed.secrets);
      await recordAudit(tx, t, {
        action: "destination.updated",
        target: { type: "destination", id: row.id, label: input.name },
        details: { settings: values.settings, replacedSecrets: replaced },
      });
    })
    .catch(conflictOnName);
  return { id: input.destinationId };
}

/** The settings that say where objects are: change one and the stored copies' keys point elsewhere. */
const LOCATION_FIELDS = ["endpoint", "apiEndpoint", "accountName", "bucket", "container", "prefix", "path"] as const;
/** Secrets that name their own account and endpoint (Azure): entered anew, they may lead to another one. */
const ACCOUNT_SECRETS = ["connectionString", "sasUrl"];

/**
 * A destination that holds backups may move only to where they are too (a migrated bucket, a new
 * name for the same endpoint): its newest stored copy must be found at the new location, or every
 * copy would be lost track of (reads would fail; retention would "delete" where nothing is).
 */
async function assertCopiesThere(t: TeamContext, id: string, values: Awaited<ReturnType<typeof rowValues>>) {
  const d = await db();
  const held = await d
    .select({ objectKey: backupLocations.objectKey })
    .from(backupLocations)
    .where(inTeam(backupLocations, t, eq(backupLocations.destinationId, id), eq(backupLocations.status, "stored")))
    .orderBy(desc(backupLocations.createdAt));
  if (!held.length) return;
  const newest = held[0]!.objectKey;
  const stored = `${formatCount(held.length, "backup")} ${held.length === 1 ? "is" : "are"} stored at this destination's current location`;
  const found = await withLoadedDestination(t, { ...values, id, teamId: t.id } as DestinationRow, (adapter) =>
    adapter.head(newest),
  ).catch((err: unknown) => {
    throw new AppError(
      "CONFLICT",
      `${stored}, and the new location could not be checked for them (${asAppError(err)?.message ?? "it did not answer"}). Nothing was changed.`,
    );
  });
  if (!found)
    throw new AppError(
      "CONFLICT",
      `${stored}, and the newest of them (${newest}) is not at the new location. Move the objects there first, or add a new destination for the new location; nothing was changed.`,
    );
}

export async function deleteDestination(t: TeamContext, destinationId: string) {
  assertRole(t, "admin");
  const usedBy = await schedulesUsing(t, { destinationId });
  if (usedBy.length)
    throw new AppError(
      "CONFLICT",
      `Schedule ${usedBy.join(", ")} still sends backups to this destination. Remove it from the schedule first.`,
    );
  const d = await db();
  await d.transaction(async (tx) => {
    // Copies already removed are history only; a copy still there would be lost track of.
    await tx
      .delete(backupLocations)
      .where(
        inTeam(
          backupLocations,
          t,
          eq(backupLocations.destinationId, destinationId),
          eq(backupLocations.status, "deleted"),
        ),
      );
    const [held] = await tx
      .select({ n: count() })
      .from(backupLocations)
      .where(inTeam(backupLocations, t, eq(backupLocations.destinationId, destinationId)));
    if (held!.n > 0)
      throw new AppError(
        "CONFLICT",
        `${formatCount(held!.n, "backup")} ${held!.n === 1 ? "is" : "are"} stored in this destination; deleting it would lose track of them. Delete those backups first.`,
      );
    const [row] = await tx
      .delete(storageDestinations)
      .where(inTeam(storageDestinations, t, eq(storageDestinations.id, destinationId)))
      .returning({ name: storageDestinations.name });
    if (!row) throw notFound("That destination");
    await recordAudit(tx, t, {
      action: "destination.deleted",
      target: { type: "destination", id: destinationId, label: row.name },
    });
  });
}

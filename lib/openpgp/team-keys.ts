import "server-only";
import { asc, eq } from "drizzle-orm";
import { teamOpenpgpKeys } from "@/db/schema";
import { recordAudit } from "../audit/record";
import { db, pgCode } from "../db";
import { AppError, notFound } from "../errors";
import { assertRole, inTeam, type TeamContext } from "../teams/context";
import { readTeamKey } from "./keys";
import type { AddTeamKeyInput } from "./schemas";

const columns = {
  id: teamOpenpgpKeys.id,
  fingerprint: teamOpenpgpKeys.fingerprint,
  userIds: teamOpenpgpKeys.userIds,
  algorithm: teamOpenpgpKeys.algorithm,
  expiresAt: teamOpenpgpKeys.expiresAt,
  createdBy: teamOpenpgpKeys.createdBy,
  createdAt: teamOpenpgpKeys.createdAt,
};

/** The team's OpenPGP public keys, oldest first (every member may see them: they are public). */
export async function listTeamKeys(t: TeamContext) {
  const d = await db();
  return d
    .select(columns)
    .from(teamOpenpgpKeys)
    .where(inTeam(teamOpenpgpKeys, t))
    .orderBy(asc(teamOpenpgpKeys.createdAt));
}

/** What an OpenPGP backup is encrypted to, as it starts: every key the team has now. */
export async function teamRecipientKeys(t: TeamContext): Promise<{ fingerprint: string; armored: string }[]> {
  const d = await db();
  const rows = await d
    .select({ fingerprint: teamOpenpgpKeys.fingerprint, armored: teamOpenpgpKeys.armored })
    .from(teamOpenpgpKeys)
    .where(inTeam(teamOpenpgpKeys, t));
  if (!rows.length)
    throw new AppError(
      "VALIDATION",
      "OpenPGP backups need at least one team key: an admin adds one under Settings → OpenPGP keys, or choose Coffer key encryption.",
      { encryption: ["Add a team OpenPGP key first."] },
    );
  return rows;
}

/** Adds a checked public key (admins); the same key twice is refused. */
export async function addTeamKey(t: TeamContext, input: AddTeamKeyInput) {
  assertRole(t, "admin");
  const facts = await readTeamKey(input.key);
  const d = await db();
  try {
    return await d.transaction(async (tx) => {
      const [row] = await tx
        .insert(teamOpenpgpKeys)
        .values({ teamId: t.id, ...facts, createdBy: t.actor.label })
        .returning(columns);
      await recordAudit(tx, t, {
        action: "openpgp_key.added",
        target: { type: "openpgp_key", id: row!.id, label: facts.fingerprint },
        details: { userIds: facts.userIds, algorithm: facts.algorithm },
      });
      return row!;
    });
  } catch (err) {
    if (pgCode(err) === "23505")
      throw new AppError("CONFLICT", `Key ${facts.fingerprint} is already one of the team's keys.`, {
        key: ["Already added."],
      });
    throw err;
  }
}

/** Removes a key (admins): backups made from now on are no longer encrypted to it; existing ones still are. */
export async function removeTeamKey(t: TeamContext, keyId: string) {
  assertRole(t, "admin");
  const d = await db();
  return d.transaction(async (tx) => {
    const [row] = await tx
      .delete(teamOpenpgpKeys)
      .where(inTeam(teamOpenpgpKeys, t, eq(teamOpenpgpKeys.id, keyId)))
      .returning({ id: teamOpenpgpKeys.id, fingerprint: teamOpenpgpKeys.fingerprint });
    if (!row) throw notFound("That key");
    await recordAudit(tx, t, {
      action: "openpgp_key.removed",
      target: { type: "openpgp_key", id: row.id, label: row.fingerprint },
    });
    return row;
  });
}

import "server-only";
import { eq } from "drizzle-orm";
import { formerTeamIds, teams } from "@/db/schema";
import { idPattern } from "@/db/columns";
import { db, type Database, type Transaction } from "../db";
import { AppError } from "../errors";
import type { TeamContext } from "../teams/context";

// A team takes back backups its objects' headers credit to a team id from before (another Coffer,
// or this one before its database was lost). Such an id is free to claim while no team of this
// Coffer has it and no other team claimed it; the first import records the claim for good.

const notFree = () =>
  new AppError(
    "CONFLICT",
    "That former team id is not free to claim: it is a team of this Coffer, or another team already took its backups back in.",
    { formerTeamId: ["This id is not free to claim."] },
  );

/** Checks that `formerId` is a team id this team may claim; returns it. */
export async function checkFormerTeamId(t: TeamContext, formerId: string): Promise<string> {
  if (!idPattern("team").test(formerId))
    throw new AppError(
      "VALIDATION",
      "A team id looks like team_ followed by 26 letters and digits (Team settings of the old Coffer, or `npx coffer inspect` on one of its objects).",
      { formerTeamId: ["Enter a team id such as team_01h…"] },
    );
  const d = await db();
  const [live] = await d.select({ id: teams.id }).from(teams).where(eq(teams.id, formerId));
  if (live) throw notFree();
  const claim = await claimantAllTeams(d, formerId);
  if (claim && claim.teamId !== t.id) throw notFree();
  return formerId;
}

/** Records the claim inside the import's transaction; refuses when another team got there first. */
export async function claimFormerTeamId(tx: Transaction, t: TeamContext, formerId: string): Promise<void> {
  await tx.insert(formerTeamIds).values({ formerId, teamId: t.id, claimedBy: t.actor.label }).onConflictDoNothing();
  if ((await claimantAllTeams(tx, formerId))?.teamId !== t.id) throw notFree();
}

/** Which team claimed a former id, whichever it is: a claim is exclusive across teams. */
async function claimantAllTeams(d: Database | Transaction, formerId: string) {
  const [claim] = await d
    .select({ teamId: formerTeamIds.teamId })
    .from(formerTeamIds)
    .where(eq(formerTeamIds.formerId, formerId));
  return claim;
}

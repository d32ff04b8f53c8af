import "server-only";
import { eq } from "drizzle-orm";
import { teams } from "@/db/schema";
import { recordAudit } from "../audit/record";
import { db } from "../db";
import { assertRole, type TeamContext } from "../teams/context";
import { describePolicy, type RetentionPolicy } from "./select";

/** The policy for backups no schedule made (Back up now, API, uploads), applied per server and set of sources (groups.ts). */
export async function getTeamRetention(t: TeamContext): Promise<RetentionPolicy> {
  const d = await db();
  const [row] = await d.select({ retention: teams.defaultRetention }).from(teams).where(eq(teams.id, t.id));
  return row!.retention;
}

export async function updateTeamRetention(t: TeamContext, policy: RetentionPolicy) {
  assertRole(t, "admin");
  const d = await db();
  await d.transaction(async (tx) => {
    await tx.update(teams).set({ defaultRetention: policy }).where(eq(teams.id, t.id));
    await recordAudit(tx, t, {
      action: "team.retention_changed",
      target: { type: "team", id: t.id, label: t.name },
      details: { keeps: describePolicy(policy) },
    });
  });
  return { keeps: describePolicy(policy) };
}

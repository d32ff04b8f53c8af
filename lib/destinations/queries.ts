import "server-only";
import { and, asc, eq } from "drizzle-orm";
import { servers, storageDestinations } from "@/db/schema";
import { db } from "../db";
import { inTeam, requireRow, type TeamContext } from "../teams/context";

// Settings are not secret by construction (secrets live sealed in credentials_enc, never selected).
const columns = {
  id: storageDestinations.id,
  name: storageDestinations.name,
  kind: storageDestinations.kind,
  settings: storageDestinations.settings,
  credentialFields: storageDestinations.credentialFields,
  serverId: storageDestinations.serverId,
  serverName: servers.name,
  classDaily: storageDestinations.classDaily,
  classWeekly: storageDestinations.classWeekly,
  classMonthly: storageDestinations.classMonthly,
  prices: storageDestinations.prices,
  checkedAt: storageDestinations.checkedAt,
  checkOk: storageDestinations.checkOk,
  checkMessage: storageDestinations.checkMessage,
};
export type DestinationView = Awaited<ReturnType<typeof getDestination>>;

const withServer = and(eq(servers.teamId, storageDestinations.teamId), eq(servers.id, storageDestinations.serverId));

export async function listDestinations(t: TeamContext) {
  const d = await db();
  return d
    .select(columns)
    .from(storageDestinations)
    .leftJoin(servers, withServer)
    .where(inTeam(storageDestinations, t))
    .orderBy(asc(storageDestinations.name));
}

export async function getDestination(t: TeamContext, destinationId: string) {
  const d = await db();
  const [row] = await d
    .select(columns)
    .from(storageDestinations)
    .leftJoin(servers, withServer)
    .where(inTeam(storageDestinations, t, eq(storageDestinations.id, destinationId)));
  return requireRow(row, "That destination");
}

import { runScheduleOp } from "@/lib/api/schedules";
import { requestBackup } from "@/lib/backups/mutations";
import { getBackup } from "@/lib/backups/queries";
import { getSchedule } from "@/lib/schedules/queries";
import { apiRoute } from "@/lib/web/api-route";
import { dispatch } from "@/lib/workflows/dispatch";

export const dynamic = "force-dynamic";

/** The schedule card's Back up now: its selection, through the same lib call and dispatch as the action. */
export const POST = apiRoute(runScheduleOp, async ({ t, params }) => {
  const s = await getSchedule(t, params.scheduleId);
  const { id } = await requestBackup(
    t,
    {
      serverId: s.serverId,
      sourceIds: s.sources.map((x) => x.id),
      destinationIds: s.destinations.map((x) => x.id),
      encrypted: s.encrypted,
      encryption: s.encryption,
      compression: s.compression,
      verify: s.verify,
      verifySourceId: s.verifySourceId ?? undefined,
    },
    "api",
  );
  await dispatch.backupRequested({ teamId: t.id, serverId: s.serverId, backupId: id });
  return getBackup(t, id);
});

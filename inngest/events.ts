import { eventType } from "inngest";
import { z } from "zod";

// Payloads carry ids only; functions read everything else from the database.
const id = (prefix: string) => z.string().regex(new RegExp(`^${prefix}_[0-9a-z]{26}$`));

/** A queued backup to run. */
export const backupRequested = eventType("backup/run.requested", { schema: z.object({ teamId: id("team"), serverId: id("srv"), backupId: id("bkp") }) });

/** The event that dispatches a queued backup; its id makes a second dispatch of the same backup a no-op. */
export const backupEvent = (b: { teamId: string; serverId: string; backupId: string }) => ({
  id: `backup-${b.backupId}`,
  name: backupRequested.name,
  data: { teamId: b.teamId, serverId: b.serverId, backupId: b.backupId },
});

/** Apply a retention policy to one scope: a schedule (`sch_…`) or a server's unscheduled backups (`srv_…`). */
export const retentionRequested = eventType("retention/apply.requested", { schema: z.object({ teamId: id("team"), scope: z.string().regex(/^(sch|srv)_[0-9a-z]{26}$/) }) });

/** `reason` makes the id: one run per finished backup, one per scope and day for the daily run. */
export const retentionEvent = (teamId: string, scope: { scheduleId: string } | { serverId: string }, reason: string) => {
  const key = "scheduleId" in scope ? scope.scheduleId : scope.serverId;
  return { id: `retention-${key}-${reason}`, name: retentionRequested.name, data: { teamId, scope: key } };
};

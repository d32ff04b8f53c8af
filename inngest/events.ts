import { randomUUID } from "node:crypto";
import { eventType } from "inngest";
import { z } from "zod";
import { idOf } from "@/lib/ids";

// Payloads carry ids only; functions read everything else from the database.
const id = (prefix: string) => idOf(prefix, prefix);

/** A queued backup to run. */
export const backupRequested = eventType("backup/run.requested", {
  schema: z.object({ teamId: id("team"), serverId: id("srv"), backupId: id("bkp") }),
});

/** The event that dispatches a queued backup; its id makes a second dispatch of the same backup a no-op. */
export const backupEvent = (b: { teamId: string; serverId: string; backupId: string }) => ({
  id: `backup-${b.backupId}`,
  name: backupRequested.name,
  data: { teamId: b.teamId, serverId: b.serverId, backupId: b.backupId },
});

/** Apply a retention policy to one scope: a schedule (`sch_…`) or a server's unscheduled backups (`srv_…`). */
export const retentionRequested = eventType("retention/apply.requested", {
  schema: z.object({ teamId: id("team"), scope: z.union([id("sch"), id("srv")]) }),
});

/** `reason` makes the id: one run per finished backup, one per scope and day for the daily run. */
export const retentionEvent = (
  teamId: string,
  scope: { scheduleId: string } | { serverId: string },
  reason: string,
) => {
  const key = "scheduleId" in scope ? scope.scheduleId : scope.serverId;
  return { id: `retention-${key}-${reason}`, name: retentionRequested.name, data: { teamId, scope: key } };
};

/** A queued restore (`database`, `directory`) or verification (`verify`) to run on `serverId`. */
export const restoreRequested = eventType("restore/run.requested", {
  schema: z.object({ teamId: id("team"), serverId: id("srv"), restoreId: id("rst") }),
});
export const verificationRequested = eventType("restore/verification.requested", {
  schema: z.object({ teamId: id("team"), serverId: id("srv"), restoreId: id("rst") }),
});

/** The event that dispatches a queued restore or verification; its id makes a second dispatch a no-op. */
export const restoreEvent = (r: {
  teamId: string;
  serverId: string;
  restoreId: string;
  kind: "database" | "directory" | "verify";
}) => ({
  id: `restore-${r.restoreId}`,
  name: r.kind === "verify" ? verificationRequested.name : restoreRequested.name,
  data: { teamId: r.teamId, serverId: r.serverId, restoreId: r.restoreId },
});

// A fresh id each: every wake-up must start a run (an id seen in the last 24 h would be skipped).

/** Notification deliveries are waiting: the dispatcher finds the channels with some due. */
export const deliveriesQueued = eventType("notifications/deliveries.queued", { schema: z.object({}) });
export const deliveriesQueuedEvent = () => ({
  id: `deliveries-${randomUUID()}`,
  name: deliveriesQueued.name,
  data: {},
});

/** Deliver what is due for one channel; one run per channel at a time, so channels never wait for each other. */
export const channelDeliveryRequested = eventType("notifications/channel.deliver", {
  schema: z.object({ teamId: id("team"), channelId: id("chn") }),
});
export const channelDeliveryEvent = (c: { teamId: string; channelId: string }) => ({
  id: `deliver-${c.channelId}-${randomUUID()}`,
  name: channelDeliveryRequested.name,
  data: { teamId: c.teamId, channelId: c.channelId },
});

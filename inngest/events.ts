import { randomUUID } from "node:crypto";
import { eventType } from "inngest";
import { workflowEvents as w, type BackupJob, type RestoreJob, type RetentionScope } from "@/lib/workflows/events";

// The typed events of lib/workflows/events.ts. Each builder gives its event a deterministic id, so
// a second event for the same job (a retried send, the sweeper's redispatch) starts nothing.

export const backupRequested = eventType(w.backupRequested.name, { schema: w.backupRequested.schema });
export const retentionRequested = eventType(w.retentionRequested.name, { schema: w.retentionRequested.schema });
export const restoreRequested = eventType(w.restoreRequested.name, { schema: w.restoreRequested.schema });
export const verificationRequested = eventType(w.verificationRequested.name, {
  schema: w.verificationRequested.schema,
});
export const deliveriesQueued = eventType(w.deliveriesQueued.name, { schema: w.deliveriesQueued.schema });
export const channelDeliveryRequested = eventType(w.channelDeliveryRequested.name, {
  schema: w.channelDeliveryRequested.schema,
});

export const backupEvent = (b: BackupJob) =>
  backupRequested.create(
    { teamId: b.teamId, serverId: b.serverId, backupId: b.backupId },
    { id: `backup-${b.backupId}` },
  );

export const restoreEvent = (r: RestoreJob) =>
  (r.kind === "verify" ? verificationRequested : restoreRequested).create(
    { teamId: r.teamId, serverId: r.serverId, restoreId: r.restoreId },
    { id: `restore-${r.restoreId}` },
  );

/** `reason` makes the id: one run per finished backup, one per scope and day for the daily run. */
export const retentionEvent = (teamId: string, scope: RetentionScope, reason: string) => {
  const key = "scheduleId" in scope ? scope.scheduleId : scope.serverId;
  return retentionRequested.create({ teamId, scope: key }, { id: `retention-${key}-${reason}` });
};

// A fresh id each: every wake-up must start a run (an id seen in the last 24 h would be skipped).
export const deliveriesQueuedEvent = () => deliveriesQueued.create({}, { id: `deliveries-${randomUUID()}` });

export const channelDeliveryEvent = (c: { teamId: string; channelId: string }) =>
  channelDeliveryRequested.create(
    { teamId: c.teamId, channelId: c.channelId },
    { id: `deliver-${c.channelId}-${randomUUID()}` },
  );

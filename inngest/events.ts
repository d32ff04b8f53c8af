import { randomUUID } from "node:crypto";
import { eventType } from "inngest";
import { workflowEvents as w, type BackupJob, type RestoreJob, type RetentionScope } from "@/lib/workflows/events";

// The typed events of lib/workflows/events.ts. Each builder gives its event a deterministic id, so
// a second event for the same job (a retried send) starts nothing. A job's run is also idempotent
// on the job's id: the sweeper's redispatch (`again`) gets an id of its own, so that a job whose
// first event started nothing (an Inngest server that took it before the app's functions were
// synced) is started, while one whose run exists is not started twice.

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

export const backupEvent = (b: BackupJob, again?: string) =>
  backupRequested.create(
    { teamId: b.teamId, serverId: b.serverId, backupId: b.backupId },
    { id: `backup-${b.backupId}${again ? `-again-${again}` : ""}` },
  );

export const restoreEvent = (r: RestoreJob, again?: string) =>
  (r.kind === "verify" ? verificationRequested : restoreRequested).create(
    { teamId: r.teamId, serverId: r.serverId, restoreId: r.restoreId },
    { id: `restore-${r.restoreId}${again ? `-again-${again}` : ""}` },
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

import { eventType } from "inngest";
import {
  workflowEvents as w,
  type BackupJob,
  type RestoreNotification,
  type RestoreJob,
  type RetentionScope,
} from "@/lib/workflows/events";

// The typed events of lib/workflows/events.ts. Each builder gives its event a deterministic id, so
// a second event for the same job (a retried send, the sweeper's redispatch) starts nothing.

export const backupRequested = eventType(w.backupRequested.name, { schema: w.backupRequested.schema });
export const retentionRequested = eventType(w.retentionRequested.name, { schema: w.retentionRequested.schema });
export const restoreRequested = eventType(w.restoreRequested.name, { schema: w.restoreRequested.schema });
export const verificationRequested = eventType(w.verificationRequested.name, {
  schema: w.verificationRequested.schema,
});
const notifications = {
  "restore.succeeded": eventType(w.restoreSucceeded.name, { schema: w.restoreSucceeded.schema }),
  "restore.failed": eventType(w.restoreFailed.name, { schema: w.restoreFailed.schema }),
  "verification.failed": eventType(w.verificationFailed.name, { schema: w.verificationFailed.schema }),
};

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

export type NotificationType = keyof typeof notifications;
export const notificationEvent = (type: NotificationType, data: RestoreNotification) =>
  notifications[type].create(
    { teamId: data.teamId, backupId: data.backupId, restoreId: data.restoreId },
    { id: `${type}-${data.restoreId}` },
  );

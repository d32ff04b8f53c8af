import { z } from "zod";
import { idOf } from "../ids";

// Payloads carry ids only: the workflows read everything else from the database.
const id = (prefix: string) => idOf(prefix, prefix);
const restoreJob = z.object({ teamId: id("team"), serverId: id("srv"), restoreId: id("rst") });
const notification = z.object({ teamId: id("team"), backupId: id("bkp"), restoreId: id("rst") });

/**
 * Every workflow event's name and payload, shared by lib (which asks for work through ./dispatch)
 * and inngest/ (whose events.ts makes them the SDK's typed events).
 */
export const workflowEvents = {
  /** A queued backup to run. */
  backupRequested: {
    name: "backup/run.requested",
    schema: z.object({ teamId: id("team"), serverId: id("srv"), backupId: id("bkp") }),
  },
  /** Apply a retention policy to one scope: a schedule (`sch_…`) or a server's unscheduled backups (`srv_…`). */
  retentionRequested: {
    name: "retention/apply.requested",
    schema: z.object({ teamId: id("team"), scope: z.union([id("sch"), id("srv")]) }),
  },
  /** A queued restore (`database`, `directory`) to run on `serverId`. */
  restoreRequested: { name: "restore/run.requested", schema: restoreJob },
  /** A queued verification to run on `serverId`. */
  verificationRequested: { name: "restore/verification.requested", schema: restoreJob },
  // Notifications (for webhooks), named as the webhook event types they become.
  restoreSucceeded: { name: "coffer/restore.succeeded", schema: notification },
  restoreFailed: { name: "coffer/restore.failed", schema: notification },
  verificationFailed: { name: "coffer/verification.failed", schema: notification },
} as const;

export type BackupJob = z.infer<typeof workflowEvents.backupRequested.schema>;
export type RestoreJob = z.infer<typeof restoreJob> & { kind: "database" | "directory" | "verify" };
export type RetentionScope = { scheduleId: string } | { serverId: string };
export type RestoreNotification = z.infer<typeof notification>;

import { z } from "zod";
import { idOf } from "../ids";

// Payloads carry ids only: the workflows read everything else from the database.
const id = (prefix: string) => idOf(prefix, prefix);
const restoreJob = z.object({ teamId: id("team"), serverId: id("srv"), restoreId: id("rst") });

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
  /** Notification deliveries are waiting: the dispatcher finds the channels with some due. */
  deliveriesQueued: { name: "notifications/deliveries.queued", schema: z.object({}) },
  /** Deliver what is due for one channel (one run per channel at a time). */
  channelDeliveryRequested: {
    name: "notifications/channel.deliver",
    schema: z.object({ teamId: id("team"), channelId: id("chn") }),
  },
} as const;

export type BackupJob = z.infer<typeof workflowEvents.backupRequested.schema>;
export type RestoreJob = z.infer<typeof restoreJob> & { kind: "database" | "directory" | "verify" };
export type RetentionScope = { scheduleId: string } | { serverId: string };

/**
 * The notification event catalogue: every event Coffer produces, its version and the shape of its
 * `data`. A change to a shape that could break a receiver bumps that event's version. README.md
 * lists the same events with an example payload each (`examples` below).
 */

export const eventTypes = [
  "backup.succeeded",
  "backup.failed",
  "backup.stale",
  "backup.recovered",
  "verification.succeeded",
  "verification.failed",
  "restore.succeeded",
  "restore.failed",
  "retention.applied",
  "destination.failing",
] as const;
export type EventType = (typeof eventTypes)[number];

export const catalogue: Record<EventType, { version: number; title: string; summary: string }> = {
  "backup.succeeded": { version: 1, title: "Backup succeeded", summary: "A backup was stored in every destination." },
  "backup.failed": { version: 1, title: "Backup failed", summary: "A backup run failed; nothing from it was kept." },
  "backup.stale": {
    version: 1,
    title: "Backups are stale",
    summary: "A schedule's newest successful backup is older than its interval plus its grace period.",
  },
  "backup.recovered": {
    version: 1,
    title: "Backups recovered",
    summary: "A stale schedule has a new successful backup.",
  },
  "verification.succeeded": {
    version: 1,
    title: "Verification succeeded",
    summary: "A backup was restored into a scratch database and matched its manifest.",
  },
  "verification.failed": {
    version: 1,
    title: "Verification failed",
    summary: "A backup did not restore, or did not match its manifest.",
  },
  "restore.succeeded": { version: 1, title: "Restore succeeded", summary: "A database or folders were restored." },
  "restore.failed": {
    version: 1,
    title: "Restore failed",
    summary: "A restore failed; its target was left as it was.",
  },
  "retention.applied": {
    // 2: `trashed` added; `expired` lists only backups whose time in the trash ended (1 listed the trashed ones).
    version: 2,
    title: "Retention applied",
    summary:
      "One retention run: the backups it moved to the trash, those whose time in the trash ended (their copies deleted), and the copies it moved to a colder storage class.",
  },
  "destination.failing": {
    version: 1,
    title: "Destination failing",
    summary: "A storage destination refused writes during a backup run.",
  },
};

export interface Ref {
  id: string;
  name: string;
}

export interface BackupData {
  backup: {
    id: string;
    status: "succeeded" | "failed";
    trigger: string;
    encrypted: boolean;
    startedAt: string | null;
    finishedAt: string | null;
    durationSeconds: number | null;
    sizeBytes: number | null;
    error: string | null;
    url: string;
  };
  server: Ref;
  schedule: Ref | null;
  destinations: Ref[];
}

export interface StaleData {
  schedule: Ref & { url: string };
  server: Ref;
  lastSuccessAt: string | null;
  staleSince: string;
  staleAfterSeconds: number;
}

export interface RecoveredData {
  schedule: Ref & { url: string };
  server: Ref;
  staleSince: string;
  backup: { id: string; finishedAt: string | null; sizeBytes: number | null; url: string };
}

export interface VerificationData {
  verification: {
    id: string;
    status: "succeeded" | "failed";
    startedAt: string | null;
    finishedAt: string | null;
    durationSeconds: number | null;
    tables: number;
    files: number;
    differences: number;
    error: string | null;
    url: string;
  };
  backup: { id: string; startedAt: string | null; url: string };
  server: Ref;
  schedule: Ref | null;
}

export interface RestoreData {
  restore: {
    id: string;
    kind: "database" | "directory";
    mode: string | null;
    status: "succeeded" | "failed";
    target: string | null;
    startedAt: string | null;
    finishedAt: string | null;
    durationSeconds: number | null;
    error: string | null;
    url: string;
  };
  backup: { id: string; startedAt: string | null; url: string };
  server: Ref;
}

type BackupList = { count: number; backups: { id: string; startedAt: string | null }[] };

export interface RetentionData {
  schedule: Ref | null;
  server: Ref | null;
  trashed: BackupList;
  expired: BackupList;
  moved: { count: number; changes: { destination: Ref; from: string | null; to: string; count: number }[] };
  problems: number;
  url: string;
}

export interface DestinationData {
  destination: Ref & { kind: string };
  backup: { id: string; url: string };
  server: Ref;
  error: string | null;
  url: string;
}

export interface EventData {
  "backup.succeeded": BackupData;
  "backup.failed": BackupData;
  "backup.stale": StaleData;
  "backup.recovered": RecoveredData;
  "verification.succeeded": VerificationData;
  "verification.failed": VerificationData;
  "restore.succeeded": RestoreData;
  "restore.failed": RestoreData;
  "retention.applied": RetentionData;
  "destination.failing": DestinationData;
}

/** What every channel receives: webhooks get it as the JSON body, chat and e-mail a message made from it. */
export interface Envelope<T extends EventType = EventType> {
  id: string;
  type: T;
  version: number;
  timestamp: string;
  team: { id: string; slug: string; name: string };
  data: EventData[T];
  /** Present on samples sent by "Send test". */
  test?: true;
}

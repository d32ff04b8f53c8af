import type { EventData, EventType } from "./catalogue";

/**
 * A plausible `data` for each event type: what "Send test" sends (marked `test: true`) and what
 * README.md shows. `url` is the app's base URL and team path, e.g. https://coffer.example.com/acme.
 */
export function exampleData<T extends EventType>(type: T, url: string): EventData[T] {
  const server = { id: "srv_0example0000000000000000", name: "db-1" };
  const schedule = { id: "sch_0example0000000000000000", name: "nightly" };
  const backupId = "bkp_0example0000000000000000";
  const backupUrl = `${url}/backups/${backupId}`;
  const backupRef = { id: backupId, startedAt: "2026-05-04T02:00:00.000Z", url: backupUrl };
  const examples: { [K in EventType]: EventData[K] } = {
    "backup.succeeded": backupExample("succeeded", null),
    "backup.failed": backupExample(
      "failed",
      "Reading of shop (db-1) failed: permission denied for table payments. Grant the backup user SELECT on it.",
    ),
    "backup.stale": {
      schedule: { ...schedule, url: `${url}/schedules` },
      server,
      lastSuccessAt: "2026-05-02T02:01:13.000Z",
      staleSince: "2026-05-04T02:05:00.000Z",
      staleAfterSeconds: 172800,
    },
    "backup.recovered": {
      schedule: { ...schedule, url: `${url}/schedules` },
      server,
      staleSince: "2026-05-04T02:05:00.000Z",
      backup: { id: backupId, finishedAt: "2026-05-04T09:12:40.000Z", sizeBytes: 96468992, url: backupUrl },
    },
    "verification.succeeded": verificationExample("succeeded", 0, null),
    "verification.failed": verificationExample(
      "failed",
      1,
      "Verification found 1 difference: public.orders has 9 rows, the manifest says 10",
    ),
    "restore.succeeded": restoreExample("succeeded", null),
    "restore.failed": restoreExample("failed", 'psql stopped at line 2041: ERROR: role "…" does not exist'),
    "retention.applied": {
      schedule,
      server,
      trashed: { count: 1, backups: [{ id: "bkp_0older000000000000000000", startedAt: "2026-04-26T02:00:00.000Z" }] },
      expired: { count: 1, backups: [{ id: "bkp_0oldest00000000000000000", startedAt: "2026-04-12T02:00:00.000Z" }] },
      moved: {
        count: 1,
        changes: [
          {
            destination: { id: "dst_0example0000000000000000", name: "s3" },
            from: "STANDARD",
            to: "STANDARD_IA",
            count: 1,
          },
        ],
      },
      problems: 0,
      url: `${url}/backups`,
    },
    "destination.failing": {
      destination: { id: "dst_0example0000000000000000", name: "s3", kind: "s3" },
      backup: { id: backupId, url: backupUrl },
      server,
      error: "s3: Access denied by the bucket policy (AccessDenied). Check the key's permissions with Test.",
      url: `${url}/storage`,
    },
  };
  return examples[type];

  function backupExample(status: "succeeded" | "failed", error: string | null): EventData["backup.succeeded"] {
    return {
      backup: {
        id: backupId,
        status,
        trigger: "schedule",
        encrypted: true,
        startedAt: "2026-05-04T02:00:00.000Z",
        finishedAt: "2026-05-04T02:01:13.000Z",
        durationSeconds: 73,
        sizeBytes: status === "succeeded" ? 96468992 : null,
        error,
        url: backupUrl,
      },
      server,
      schedule,
      destinations: [{ id: "dst_0example0000000000000000", name: "s3" }],
    };
  }

  function verificationExample(status: "succeeded" | "failed", differences: number, error: string | null) {
    return {
      verification: {
        id: "rst_0example0000000000000000",
        status,
        startedAt: "2026-05-04T02:01:20.000Z",
        finishedAt: "2026-05-04T02:02:05.000Z",
        durationSeconds: 45,
        tables: 12,
        files: 1,
        differences,
        error,
        url: `${backupUrl}/restore`,
      },
      backup: backupRef,
      server,
      schedule,
    } satisfies EventData["verification.succeeded"];
  }

  function restoreExample(status: "succeeded" | "failed", error: string | null) {
    return {
      restore: {
        id: "rst_0example0000000000000000",
        kind: "database",
        mode: "new",
        status,
        target: "shop_restored",
        startedAt: "2026-05-04T10:00:00.000Z",
        finishedAt: "2026-05-04T10:00:41.000Z",
        durationSeconds: 41,
        error,
        url: `${backupUrl}/restore`,
      },
      backup: backupRef,
      server,
    } satisfies EventData["restore.succeeded"];
  }
}

import { applyRetentionFn } from "./apply-retention";
import { deliverNotifications } from "./deliver-notifications";
import { detectStaleBackups } from "./detect-stale-backups";
import { dispatchNotifications } from "./dispatch-notifications";
import { pruneIdempotencyKeys } from "./prune-idempotency-keys";
import { pruneNotifications } from "./prune-notifications";
import { pruneSignIns } from "./prune-sign-ins";
import { retentionDaily } from "./retention-daily";
import { runBackup } from "./run-backup";
import { runRestore } from "./run-restore";
import { runVerification } from "./run-verification";
import { scheduleTick } from "./schedule-tick";
import { sweepRuns } from "./sweep-runs";
import { vacuumEmbeddedDatabase } from "./vacuum-embedded-database";

/** Every workflow, served at /api/inngest or run by the in-process engine. */
export const functions = [
  runBackup,
  scheduleTick,
  sweepRuns,
  applyRetentionFn,
  retentionDaily,
  runRestore,
  runVerification,
  dispatchNotifications,
  deliverNotifications,
  detectStaleBackups,
  pruneNotifications,
  pruneIdempotencyKeys,
  pruneSignIns,
  vacuumEmbeddedDatabase,
];

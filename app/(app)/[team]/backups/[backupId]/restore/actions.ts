"use server";
import {
  cancelRestore,
  requestDatabaseRestore,
  requestDirectoryRestore,
  requestVerification,
} from "@/lib/restores/mutations";
import {
  restoreDatabaseSchema,
  restoreDirectorySchema,
  restoreRefSchema,
  verifyBackupSchema,
} from "@/lib/restores/schemas";
import { teamAction } from "@/lib/web/action";
import { dispatch } from "@/lib/workflows/dispatch";

export const restoreDatabaseAction = teamAction(restoreDatabaseSchema, "member", async (t, input) => {
  const job = await requestDatabaseRestore(t, input);
  await dispatch.restoreRequested({ teamId: t.id, serverId: input.serverId, restoreId: job.id, kind: "database" });
  return job;
});

export const restoreDirectoryAction = teamAction(restoreDirectorySchema, "member", async (t, input) => {
  const job = await requestDirectoryRestore(t, input);
  await dispatch.restoreRequested({ teamId: t.id, serverId: input.serverId, restoreId: job.id, kind: "directory" });
  return job;
});

export const verifyNowAction = teamAction(verifyBackupSchema, "member", async (t, input) => {
  const job = await requestVerification(t, input);
  await dispatch.restoreRequested({ teamId: t.id, serverId: job.serverId, restoreId: job.id, kind: "verify" });
  return job;
});

export const cancelRestoreAction = teamAction(restoreRefSchema, "member", (t, input) =>
  cancelRestore(t, input.restoreId),
);

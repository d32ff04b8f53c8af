"use server";
import { restoreEvent } from "@/inngest/events";
import { sendEvents } from "@/inngest/send";
import { log } from "@/lib/log";
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
import type { TeamContext } from "@/lib/teams/context";

/** The job is queued either way: if the event cannot be sent now, the sweeper sends it again. */
async function dispatch(
  t: TeamContext,
  job: { id: string },
  serverId: string,
  kind: "database" | "directory" | "verify",
) {
  await sendEvents([restoreEvent({ teamId: t.id, serverId, restoreId: job.id, kind })]).catch((err: unknown) =>
    log.warn("restore dispatch failed; the sweeper retries it", { restoreId: job.id, err }),
  );
  return job;
}

export const restoreDatabaseAction = teamAction(restoreDatabaseSchema, "member", async (t, input) =>
  dispatch(t, await requestDatabaseRestore(t, input), input.serverId, "database"),
);

export const restoreDirectoryAction = teamAction(restoreDirectorySchema, "member", async (t, input) =>
  dispatch(t, await requestDirectoryRestore(t, input), input.serverId, "directory"),
);

export const verifyNowAction = teamAction(verifyBackupSchema, "member", async (t, input) => {
  const job = await requestVerification(t, input);
  return dispatch(t, job, job.serverId, "verify");
});

export const cancelRestoreAction = teamAction(restoreRefSchema, "member", (t, input) =>
  cancelRestore(t, input.restoreId),
);

import { createRestoreOp } from "@/lib/api/restores";
import { requestDatabaseRestore, requestDirectoryRestore } from "@/lib/restores/mutations";
import { getRestore } from "@/lib/restores/queries";
import { apiRoute } from "@/lib/web/api-route";
import { dispatch } from "@/lib/workflows/dispatch";

export const dynamic = "force-dynamic";

/** As the restore page's actions: lib, then dispatch. */
export const POST = apiRoute(createRestoreOp, async ({ t, body }) => {
  const { kind, ...input } = body;
  const job =
    kind === "database"
      ? await requestDatabaseRestore(t, input as Extract<typeof body, { kind: "database" }>)
      : await requestDirectoryRestore(t, input as Extract<typeof body, { kind: "directory" }>);
  await dispatch.restoreRequested({ teamId: t.id, serverId: body.serverId, restoreId: job.id, kind });
  return getRestore(t, job.id);
});

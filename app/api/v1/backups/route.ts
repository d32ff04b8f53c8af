import { backupSchema, listBackupsOp, triggerBackupOp } from "@/lib/api/backups";
import { cursor } from "@/lib/api/schemas";
import { onceForKey } from "@/lib/api-tokens/idempotency";
import { requestBackup } from "@/lib/backups/mutations";
import { getBackup, listBackups } from "@/lib/backups/queries";
import { apiJson, apiRoute } from "@/lib/web/api-route";
import { dispatch } from "@/lib/workflows/dispatch";

export const dynamic = "force-dynamic";

export const GET = apiRoute(listBackupsOp, async ({ t, query }) => {
  const { cursor: before, ...filter } = query;
  const page = await listBackups(t, { ...filter, before });
  return { data: page.rows, nextCursor: page.next ? cursor.encode(page.next.createdAt, page.next.id) : null };
});

/** "Back up now" as the action does it (lib, then dispatch), once per Idempotency-Key. */
export const POST = apiRoute(triggerBackupOp, async ({ t, body, headers }) => {
  const start = async () => {
    const { id } = await requestBackup(t, body, "api");
    await dispatch.backupRequested({ teamId: t.id, serverId: body.serverId, backupId: id });
    return { id };
  };
  const key = headers["idempotency-key"];
  const { id, replayed } = key ? await onceForKey(t, key, body, start) : { ...(await start()), replayed: false };
  return apiJson(backupSchema, await getBackup(t, id), {
    status: replayed ? 200 : 201,
    headers: replayed ? { "Idempotency-Replayed": "true" } : {},
  });
});

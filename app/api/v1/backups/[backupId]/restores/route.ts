import { listRestoresOp } from "@/lib/api/restores";
import { getBackup } from "@/lib/backups/queries";
import { listRestores } from "@/lib/restores/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(listRestoresOp, async ({ t, params }) => {
  await getBackup(t, params.backupId); // another team's backup is 404, not an empty list
  return { data: await listRestores(t, params.backupId) };
});

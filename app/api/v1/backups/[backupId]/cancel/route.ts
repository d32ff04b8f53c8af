import { cancelBackupOp } from "@/lib/api/backups";
import { cancelBackup } from "@/lib/backups/mutations";
import { getBackup } from "@/lib/backups/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const POST = apiRoute(cancelBackupOp, async ({ t, params }) => {
  await cancelBackup(t, params.backupId);
  return getBackup(t, params.backupId);
});

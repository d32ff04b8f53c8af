import { getBackupOp } from "@/lib/api/backups";
import { getBackup } from "@/lib/backups/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(getBackupOp, ({ t, params }) => getBackup(t, params.backupId));

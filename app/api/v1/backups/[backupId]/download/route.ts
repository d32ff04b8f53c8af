import { downloadBackupOp } from "@/lib/api/backups";
import { downloadResponse } from "@/lib/backups/download";
import { apiRoute } from "@/lib/web/api-route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** The decrypted `.tar.gz`, answered by the same lib function as the browser's download: Range, If-Range, ETag. */
export const GET = apiRoute(downloadBackupOp, ({ t, params, request }) =>
  downloadResponse(t, params.backupId, request),
);

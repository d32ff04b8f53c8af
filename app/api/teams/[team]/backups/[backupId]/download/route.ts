import { downloadResponse } from "@/lib/backups/download";
import { teamRoute } from "@/lib/web/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** The decrypted `.tar.gz` of a backup, resumable: Range, If-Range, ETag, Last-Modified (lib/backups/download). */
export const GET = teamRoute<{ backupId: string }>("member", (t, request, { backupId }) =>
  downloadResponse(t, backupId, request),
);

/** What a GET would answer, without the body: download managers ask before they fetch. */
export const HEAD = GET;

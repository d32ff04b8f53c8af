import { Readable } from "node:stream";
import { downloadBackupOp } from "@/lib/api/backups";
import { openDownload, RangeNotSatisfiable } from "@/lib/backups/download";
import { apiRoute } from "@/lib/web/api-route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** The decrypted `.tar.gz`, streamed by the same lib function as the browser's download, with Range. */
export const GET = apiRoute(downloadBackupOp, async ({ t, params, headers, request }) => {
  try {
    const d = await openDownload(t, params.backupId, headers.range ?? null, request.signal);
    return new Response(Readable.toWeb(d.body) as ReadableStream<Uint8Array>, { status: d.status, headers: d.headers });
  } catch (err) {
    if (err instanceof RangeNotSatisfiable)
      return new Response(null, { status: 416, headers: { "Content-Range": `bytes */${err.size}` } });
    throw err;
  }
});

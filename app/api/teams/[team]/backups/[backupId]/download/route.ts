import { Readable } from "node:stream";
import { openDownload, RangeNotSatisfiable } from "@/lib/backups/download";
import { teamRoute } from "@/lib/web/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** The decrypted `.tar.gz` of a backup, with HTTP Range for resumed downloads. */
export const GET = teamRoute<{ backupId: string }>("member", async (t, request, { backupId }) => {
  try {
    const d = await openDownload(t, backupId, request.headers.get("range"), request.signal);
    return new Response(Readable.toWeb(d.body) as ReadableStream<Uint8Array>, { status: d.status, headers: d.headers });
  } catch (err) {
    if (err instanceof RangeNotSatisfiable)
      return new Response(null, {
        status: 416,
        headers: { "Content-Range": `bytes */${err.size}`, "Cache-Control": "private, no-store" },
      });
    throw err;
  }
});

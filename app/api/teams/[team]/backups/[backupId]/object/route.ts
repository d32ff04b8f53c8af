import { Readable } from "node:stream";
import { openStoredObject } from "@/lib/backups/stored-object";
import { teamRoute } from "@/lib/web/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** An OpenPGP backup's stored `.tar.gz.gpg`, as it is: for `gpg --decrypt` with the team's key. */
export const GET = teamRoute<{ backupId: string }>("member", async (t, request, { backupId }) => {
  const o = await openStoredObject(t, backupId, request.signal);
  return new Response(Readable.toWeb(o.body) as ReadableStream<Uint8Array>, { headers: o.headers });
});

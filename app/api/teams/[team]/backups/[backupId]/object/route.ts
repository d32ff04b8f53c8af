import { Readable } from "node:stream";
import { openStoredObject } from "@/lib/backups/stored-object";
import { withDeclaredLength } from "@/lib/web/content-length";
import { teamRoute } from "@/lib/web/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** An OpenPGP backup's stored `.tar.gz.gpg`, as it is: for `gpg --decrypt` with the team's key. */
export const GET = teamRoute<{ backupId: string }>("member", async (t, request, { backupId }) => {
  const o = await openStoredObject(t, backupId, { head: request.method === "HEAD", signal: request.signal });
  const body = o.body && (Readable.toWeb(o.body) as ReadableStream<Uint8Array>);
  return new Response(body, { headers: withDeclaredLength(o.headers) });
});

/** GET's headers after reading one byte. Left to Next.js, a HEAD runs GET, whose body (a storage read and its lease) nobody reads or closes. */
export const HEAD = GET;

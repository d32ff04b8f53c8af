import { getDestination } from "@/lib/destinations/queries";
import { scanDestination, scanInputSchema, type ScanLine } from "@/lib/catalogue/scan";
import { toActionError } from "@/lib/web/action";
import { teamRoute } from "@/lib/web/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * Scan for backups, as newline-delimited JSON (lib/catalogue/scan's events, then an error line if
 * it failed): written as the scan goes, at the pace the browser reads. Closing the request cancels it.
 */
export const POST = teamRoute<{ destinationId: string }>(
  "admin",
  async (t, request, { destinationId }) => {
    const input = scanInputSchema.parse(await request.json().catch(() => ({})));
    // Answered before the stream starts: another team's destination is a 404, not a 200 with an error line.
    await getDestination(t, destinationId);
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const encoder = new TextEncoder();
    const send = (line: ScanLine) => writer.write(encoder.encode(`${JSON.stringify(line)}\n`));
    scanDestination(t, destinationId, { formerTeamId: input.formerTeamId, signal: request.signal }, send)
      .catch((err: unknown) =>
        request.signal.aborted ? undefined : send({ type: "error", ...toActionError(err).error }),
      )
      .finally(() => writer.close().catch(() => {}));
    return new Response(readable, {
      headers: { "Content-Type": "application/x-ndjson; charset=utf-8", "Cache-Control": "private, no-store" },
    });
  },
  { contentTypes: ["application/json"] },
);

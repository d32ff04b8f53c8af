import { scalarBundle } from "@/lib/api/reference";
import { secured } from "@/lib/web/http";

/** Scalar's browser bundle, from node_modules (next.config.ts traces it into the standalone build). */
export async function GET(): Promise<Response> {
  const { body, size } = await scalarBundle();
  return secured(
    new Response(body, {
      headers: {
        "Content-Type": "text/javascript; charset=utf-8",
        "Content-Length": String(size),
        "Cache-Control": "public, max-age=3600",
      },
    }),
  );
}

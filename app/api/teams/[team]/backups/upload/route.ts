import { Readable } from "node:stream";
import { uploadBackupSchema } from "@/lib/backups/schemas";
import { importUpload } from "@/lib/backups/upload";
import { AppError } from "@/lib/errors";
import { parseInput, queryParams } from "@/lib/web/input";
import { teamRoute } from "@/lib/web/route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Imports a `.tar.gz` sent as the raw request body (settings in the query string), streamed. */
export const POST = teamRoute(
  "member",
  async (t, request) => {
    const input = parseInput(uploadBackupSchema, queryParams(request.url));
    if (!request.body) throw new AppError("VALIDATION", "Choose a .tar.gz file to upload.");
    const body = Readable.fromWeb(request.body as import("node:stream/web").ReadableStream<Uint8Array>);
    const declared = Number(request.headers.get("content-length") ?? "");
    const result = await importUpload(t, input, body, Number.isSafeInteger(declared) ? declared : undefined);
    return Response.json({ id: result.id, sizeBytes: result.sizeBytes }, { status: 201 });
  },
  { contentTypes: ["application/gzip", "application/x-gzip", "application/octet-stream"] },
);

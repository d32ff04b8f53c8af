import { Readable } from "node:stream";
import { uploadBackupOp } from "@/lib/api/backups";
import { importUpload } from "@/lib/backups/upload";
import { AppError } from "@/lib/errors";
import { apiRoute } from "@/lib/web/api-route";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Imports a `.tar.gz` sent as the raw body, streamed, as the browser's upload does. */
export const POST = apiRoute(uploadBackupOp, async ({ t, query, request }) => {
  if (!request.body) throw new AppError("VALIDATION", "Send the .tar.gz as the request body.");
  const body = Readable.fromWeb(request.body as import("node:stream/web").ReadableStream<Uint8Array>);
  const declared = Number(request.headers.get("content-length") ?? "");
  return importUpload(t, query, body, Number.isSafeInteger(declared) ? declared : undefined);
});

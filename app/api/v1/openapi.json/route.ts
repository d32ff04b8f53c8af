import { openApiDocument } from "@/lib/api/openapi";
import { env } from "@/lib/env";
import { secured } from "@/lib/web/http";

/** The OpenAPI 3.1 document of /api/v1 (public: it describes, it holds nothing of anyone's). */
export function GET(): Response {
  return secured(
    Response.json(openApiDocument(env().APP_URL), { headers: { "Cache-Control": "public, max-age=300" } }),
  );
}

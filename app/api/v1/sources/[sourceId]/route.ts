import { deleteSourceOp, replaceSourceOp } from "@/lib/api/servers";
import { getSource } from "@/lib/servers/queries";
import type { sslModes } from "@/lib/servers/schemas";
import { deleteSource, updateSource } from "@/lib/servers/source-mutations";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

type SslMode = (typeof sslModes)[number];

export const PUT = apiRoute(replaceSourceOp, async ({ t, params, body }) => {
  const sourceId = params.sourceId;
  const input =
    body.kind === "directory"
      ? body
      : {
          ...body,
          pgSslmode: body.pgSslmode ?? ((await getSource(t, sourceId)).pgSslmode as SslMode | null) ?? "prefer",
        };
  return getSource(t, (await updateSource(t, { ...input, sourceId })).id);
});

export const DELETE = apiRoute(deleteSourceOp, async ({ t, params }) => {
  await deleteSource(t, params.sourceId);
  return { id: params.sourceId, deleted: true as const };
});

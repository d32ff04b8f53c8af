import { createVerificationOp } from "@/lib/api/restores";
import { requestVerification } from "@/lib/restores/mutations";
import { getRestore } from "@/lib/restores/queries";
import { apiRoute } from "@/lib/web/api-route";
import { dispatch } from "@/lib/workflows/dispatch";

export const dynamic = "force-dynamic";

/** As "Verify now": lib, then dispatch. */
export const POST = apiRoute(createVerificationOp, async ({ t, body }) => {
  const job = await requestVerification(t, body);
  await dispatch.restoreRequested({ teamId: t.id, serverId: job.serverId, restoreId: job.id, kind: "verify" });
  return getRestore(t, job.id);
});

import { cancelRestoreOp } from "@/lib/api/restores";
import { cancelRestore } from "@/lib/restores/mutations";
import { getRestore } from "@/lib/restores/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const POST = apiRoute(cancelRestoreOp, async ({ t, params }) => {
  await cancelRestore(t, params.restoreId);
  return getRestore(t, params.restoreId);
});

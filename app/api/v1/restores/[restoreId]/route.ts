import { getRestoreOp } from "@/lib/api/restores";
import { getRestore } from "@/lib/restores/queries";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(getRestoreOp, ({ t, params }) => getRestore(t, params.restoreId));

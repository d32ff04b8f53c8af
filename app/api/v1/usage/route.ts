import { usageOp } from "@/lib/api/usage";
import { storageUsage } from "@/lib/retention/usage";
import { apiRoute } from "@/lib/web/api-route";

export const dynamic = "force-dynamic";

export const GET = apiRoute(usageOp, ({ t }) => storageUsage(t));

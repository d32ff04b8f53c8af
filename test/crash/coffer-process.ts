// A Coffer process for the crash tests: the embedded workflow engine started as the app starts it,
// on the database and data folder the environment names. `backup <teamId> <serverId> <backupId>`
// (or `restore <teamId> <serverId> <restoreId> <kind>`) then asks for that run, as Back up now does.
import { startWorkflows } from "@/inngest/start";
import { dispatch } from "@/lib/workflows/dispatch";

const [what, teamId, serverId, id, kind] = process.argv.slice(2);
await startWorkflows();
if (what === "backup") await dispatch.backupRequested({ teamId: teamId!, serverId: serverId!, backupId: id! });
if (what === "restore")
  await dispatch.restoreRequested({
    teamId: teamId!,
    serverId: serverId!,
    restoreId: id!,
    kind: kind as "database" | "directory" | "verify",
  });
console.log("coffer-process started");

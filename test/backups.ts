import { backupEvent } from "@/inngest/events";
import type { InProcessEngine } from "@/inngest/in-process";
import { requestBackup } from "@/lib/backups/mutations";
import { getBackup } from "@/lib/backups/queries";
import type { TeamContext } from "@/lib/teams/context";

/** Back up now, as the Backups page asks for it, run to its end by `engine`: the backup as it finished. */
export async function backUpNow(engine: InProcessEngine, t: TeamContext, input: Parameters<typeof requestBackup>[1]) {
  const { id } = await requestBackup(t, input);
  engine.send([backupEvent({ teamId: t.id, serverId: input.serverId, backupId: id })]);
  await engine.idle();
  return getBackup(t, id);
}

import type { Dispatcher } from "@/lib/workflows/dispatch";
import { backupEvent, deliveriesQueuedEvent, restoreEvent, retentionEvent } from "./events";
import type { OutgoingEvent } from "./sdk-adapter";

/** lib's dispatch port, answered with the typed events sent by `send` (an Inngest server or this process's engine). */
export function dispatcherFor(send: (events: OutgoingEvent[]) => unknown): Dispatcher {
  return {
    backupRequested: async (job) => void (await send([backupEvent(job)])),
    restoreRequested: async (job) => void (await send([restoreEvent(job)])),
    retentionRequested: async ({ teamId, scope, reason }) => void (await send([retentionEvent(teamId, scope, reason)])),
    deliveriesQueued: async () => void (await send([deliveriesQueuedEvent()])),
  };
}

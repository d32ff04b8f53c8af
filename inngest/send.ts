import { env } from "@/lib/env";
import { inngest } from "./client";
import { inProcessEngine } from "./in-process";

export interface OutgoingEvent {
  id: string;
  name: string;
  data: Record<string, unknown>;
}

/** Sends events to wherever workflows run: the Inngest server, or this process's engine. */
export async function sendEvents(events: OutgoingEvent[]): Promise<void> {
  if (!events.length) return;
  if (env().workflows === "inngest") await inngest.send(events);
  else (await inProcessEngine()).send(events);
}

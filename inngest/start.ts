import { env } from "@/lib/env";
import { log } from "@/lib/log";
import { registerNotificationWaker } from "@/lib/notifications/wake";
import { deliveriesQueuedEvent } from "./events";
import { inProcessEngine } from "./in-process";
import { sendEvents } from "./send";
import { sweepRuns } from "./functions/sweep-runs";

/**
 * At server start: lib's notification wake-up is answered with a dispatch event; without an
 * Inngest server, start the in-process engine's cron triggers and sweep at once for runs a
 * previous process left behind (a server's own crons do this otherwise).
 */
export async function startWorkflows(): Promise<void> {
  registerNotificationWaker(() => sendEvents([deliveriesQueuedEvent()]));
  if (env().workflows === "inngest") {
    log.info("workflows run on an Inngest server", {
      baseUrl: env().INNGEST_BASE_URL ?? (env().INNGEST_EVENT_KEY ? "Inngest Cloud" : "dev server"),
    });
    return;
  }
  const engine = await inProcessEngine();
  engine.startCrons();
  engine.runCron(sweepRuns);
  log.info("workflows run in this process (no Inngest server configured)");
}

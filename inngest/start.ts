import { env } from "@/lib/env";
import { log } from "@/lib/log";
import { inProcessEngine } from "./in-process";
import { sweepRuns } from "./functions/sweep-runs";

/**
 * At server start: without an Inngest server, start the in-process engine's cron triggers and
 * sweep at once for runs a previous process left behind (a server's own crons do this otherwise).
 */
export async function startWorkflows(): Promise<void> {
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

import { serve } from "inngest/next";
import { env } from "@/lib/env";
import { log } from "@/lib/log";
import { registerDispatcher } from "@/lib/workflows/dispatch";
import { registerWorkflowEndpoint } from "@/lib/workflows/endpoint";
import { inngest } from "./client";
import { dispatcherFor } from "./dispatcher";
import { functions } from "./functions";
import { sweepRuns } from "./functions/sweep-runs";
import { inProcessEngine } from "./in-process";

/**
 * At server start: registers with lib where requests for work go and, with an Inngest server, the
 * endpoint it calls. Without one the in-process engine runs the workflows: it registers itself,
 * and its crons start here with a sweep at once for runs a previous process left behind (a
 * server's own crons do this otherwise).
 */
export async function startWorkflows(): Promise<void> {
  if (env().workflows === "inngest") {
    registerDispatcher(dispatcherFor((events) => inngest.send(events)));
    registerWorkflowEndpoint(serve({ client: inngest, functions }));
    log.info("workflows run on an Inngest server", {
      baseUrl: env().INNGEST_BASE_URL ?? (env().INNGEST_EVENT_KEY ? "Inngest Cloud" : "dev server"),
    });
    return;
  }
  const engine = await inProcessEngine(); // registers itself
  engine.startCrons();
  engine.runCron(sweepRuns);
  log.info("workflows run in this process (no Inngest server configured)");
}

import { serve } from "inngest/next";
import { env } from "@/lib/env";
import { handBackJobsAllTeams } from "@/lib/jobs/hand-back";
import { log } from "@/lib/log";
import { registerDispatcher } from "@/lib/workflows/dispatch";
import { registerWorkflowEndpoint, stepsFinished } from "@/lib/workflows/endpoint";
import { markStopping } from "@/lib/workflows/stopping";
import { inngest } from "./client";
import { dispatcherFor } from "./dispatcher";
import { functions } from "./functions";
import { sweepRuns } from "./functions/sweep-runs";
import { inProcessEngine } from "./in-process";

/**
 * At server start: registers with lib where requests for work go and, with an Inngest server, the
 * endpoint it calls; on SIGTERM it reports unready, takes new steps only until the proxy has seen
 * that, and lets those running finish for SHUTDOWN_GRACE_PERIOD. Without one the in-process engine runs the workflows: it registers itself,
 * takes up at once what a previous process left queued or running, starts its crons with a sweep
 * at once (a server's own crons do this otherwise), and on SIGTERM stops taking runs, lets those
 * going finish for SHUTDOWN_GRACE_PERIOD and hands the rest back for the next instance.
 */
export async function startWorkflows(): Promise<void> {
  if (env().workflows === "inngest") {
    registerDispatcher(dispatcherFor((events) => inngest.send(events)));
    registerWorkflowEndpoint(serve({ client: inngest, functions }));
    onStopSignal(() => {
      markStopping();
      log.info("stopping: running workflow steps may finish", { graceSeconds: env().SHUTDOWN_GRACE_PERIOD });
      void stepsFinished(env().SHUTDOWN_GRACE_PERIOD * 1000).then((cut) => {
        // A step cut short is sent again by the Inngest server; its next attempt takes the job over.
        log.info("stopped", { stepsCut: cut });
        // The last step's answer has ended, but the server may still be writing its end out.
        setTimeout(() => process.exit(0), 1_000);
      });
    });
    log.info("workflows run on an Inngest server", {
      baseUrl: env().INNGEST_BASE_URL ?? (env().INNGEST_EVENT_KEY ? "Inngest Cloud" : "dev server"),
    });
    return;
  }
  const engine = await inProcessEngine(); // registers itself
  await engine.start();
  await engine.runCron(sweepRuns);
  onStopSignal(() => {
    markStopping();
    const graceMs = env().SHUTDOWN_GRACE_PERIOD * 1000;
    log.info("stopping: running workflows may finish", { graceSeconds: env().SHUTDOWN_GRACE_PERIOD });
    void engine
      .shutdown(graceMs, handBackJobsAllTeams)
      .then((handedBack) => log.info("stopped", { handedBack }))
      .catch((err: unknown) => log.error("shutdown failed", { err }))
      .finally(() => process.exit(0));
  });
  log.info("workflows run in this process (no Inngest server configured)");
}

/**
 * Runs `stop` on the first SIGTERM or SIGINT. A repeated signal is ignored, so the grace period
 * holds: systemd signals every process of the service and `npm start` forwards its own, as a
 * terminal's Ctrl-C reaches both too, so one stop brings two. A SIGINT more than a second later
 * (Ctrl-C again) exits at once, leaving running work to the next start's recovery.
 */
function onStopSignal(stop: () => void): void {
  let stoppedAt = 0;
  const handle = (signal: NodeJS.Signals) => {
    if (!stoppedAt) {
      stoppedAt = Date.now();
      stop();
    } else if (signal === "SIGINT" && Date.now() - stoppedAt > 1_000) process.exit(130);
    else log.info("already stopping", { signal });
  };
  process.on("SIGTERM", handle);
  process.on("SIGINT", handle);
}

import { verificationRequested } from "../events";
import { restoreWorkflow } from "../restore-workflow";

/**
 * Verifies a backup: every dump into a scratch database (dropped on every path) and counted, every
 * file checked against the manifest. Differences are a result, not an error: the job ends "failed"
 * with them and `verification.failed` goes out, as it does when the job itself fails.
 */
export const runVerification = restoreWorkflow({
  id: "run-verification",
  trigger: verificationRequested,
  step: "verify",
});

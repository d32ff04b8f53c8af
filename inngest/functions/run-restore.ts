import { restoreRequested } from "../events";
import { restoreWorkflow } from "../restore-workflow";

/** Restores a database (into a scratch database renamed into place) or folders. */
export const runRestore = restoreWorkflow({
  id: "run-restore",
  trigger: restoreRequested,
  step: "restore",
});

import { retentionScopesAllTeams } from "@/lib/retention/apply";
import { inngest } from "../client";
import { mapped } from "../errors";
import { retentionEvent } from "../events";

/**
 * Scopes listed and dispatched per step: each step's output stays far below Inngest's 4 MB
 * however many teams there are (all of them in one step passed it at about 50 000).
 */
export const RETENTION_PAGE = 1000;

/** Daily, for every team: applies retention to each schedule and each server's unscheduled backups. */
export const retentionDaily = inngest.createFunction(
  { id: "retention-daily", triggers: [{ cron: "30 3 * * *" }], retries: 2 },
  async ({ step }) => {
    const day = new Date().toISOString().slice(0, 10);
    let total = 0;
    for (const kind of ["schedules", "servers"] as const) {
      let after = "";
      for (let page = 0; ; page++) {
        const scopes = await step.run(`list-${kind}-${page}`, () =>
          mapped({}, () => retentionScopesAllTeams(kind, after, RETENTION_PAGE)),
        );
        if (scopes.length)
          await step.sendEvent(
            `dispatch-${kind}-${page}`,
            scopes.map(({ teamId, id }) =>
              retentionEvent(teamId, kind === "schedules" ? { scheduleId: id } : { serverId: id }, day),
            ),
          );
        total += scopes.length;
        if (scopes.length < RETENTION_PAGE) break;
        after = scopes.at(-1)!.id;
      }
    }
    return { scopes: total };
  },
);

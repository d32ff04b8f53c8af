import "server-only";
import { Gauge, Registry } from "prom-client";
import { env } from "../env";
import { AppError } from "../errors";
import { timingSafeEqual, createHash } from "node:crypto";
import type { TeamContext } from "../teams/context";
import { samplesAllTeams, type Samples } from "./collect";

/** Every metric Coffer exports, with its help text (README.md lists the same). */
export const metricHelp: Record<string, string> = {
  coffer_schedule_last_success_timestamp_seconds: "When the newest successful backup of an enabled schedule finished.",
  coffer_schedule_last_failure_timestamp_seconds: "When the newest failed backup run of an enabled schedule finished.",
  coffer_schedule_last_verified_timestamp_seconds:
    "When a backup of an enabled schedule was last verified by a restore.",
  coffer_schedule_last_verification_failure_timestamp_seconds:
    "When a verification of a backup of an enabled schedule last failed.",
  coffer_schedule_last_size_bytes: "Stored size of the newest successful backup of an enabled schedule.",
  coffer_schedule_last_duration_seconds: "How long the newest successful backup of an enabled schedule took.",
  coffer_schedule_stale: "1 while the schedule is stale (no successful backup within its interval plus grace period).",
  coffer_schedule_stale_after_seconds: "The age of the newest successful backup at which the schedule becomes stale.",
  coffer_schedule_watched_since_timestamp_seconds:
    "Since when the schedule is watched for staleness: its creation, or its last resume after a pause.",
  coffer_server_last_success_timestamp_seconds: "When the newest successful backup of a server finished (any trigger).",
  coffer_server_last_verified_timestamp_seconds: "When a backup of a server was last verified.",
  coffer_source_last_success_timestamp_seconds: "When the newest successful backup including a source finished.",
  coffer_backups: "Backups on record by status.",
  coffer_stored_bytes: "Bytes stored per destination and storage class.",
  coffer_stored_objects: "Objects stored per destination and storage class.",
  coffer_storage_monthly_cost_usd:
    "Estimated monthly storage cost per destination and storage class (list prices or overrides).",
  coffer_notification_deliveries:
    "Notification deliveries in the 30-day log by channel kind and outcome (pending, succeeded, failed).",
  coffer_notification_channels:
    "Notification channels by kind and state (ok, failing, disabled by Coffer after failing, off: turned off by someone).",
  coffer_workflows: "Queued and running work: backups, restores, verifications, notification deliveries.",
};

/** Prometheus text for the samples: a fresh registry per scrape, so nothing outlives the request. */
async function render(samples: Samples): Promise<{ body: string; contentType: string }> {
  const registry = new Registry();
  for (const [name, help] of Object.entries(metricHelp)) {
    const list = samples[name] ?? [];
    const labelNames = [...new Set(list.flatMap((s) => Object.keys(s.labels)))];
    // Always labelled: an unlabelled gauge with no series prints `name 0`, which an alert such as
    // `time() - coffer_schedule_last_success_timestamp_seconds > …` reads as a backup in 1970.
    if (!labelNames.length) labelNames.push("team");
    const gauge = new Gauge({ name, help, labelNames, registers: [registry] });
    for (const s of list) gauge.set(s.labels, s.value);
  }
  return { body: await registry.metrics(), contentType: registry.contentType };
}

/** One team's metrics (the per-team endpoint, read with a `metrics:read` token). */
export async function teamMetrics(t: TeamContext) {
  return render(await samplesAllTeams(t.id));
}

/** Every team's metrics, each series labelled with its team (the operators' endpoint). */
export async function instanceMetricsAllTeams() {
  return render(await samplesAllTeams(undefined));
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * The operators' endpoint answers only to `Authorization: Bearer <METRICS_TOKEN>`; without that
 * variable it does not exist (NOT_FOUND).
 */
export function checkInstanceToken(authorization: string | null): void {
  const expected = env().METRICS_TOKEN;
  if (!expected)
    throw new AppError(
      "NOT_FOUND",
      "The instance metrics endpoint is off: the operator sets METRICS_TOKEN to turn it on.",
    );
  const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
  if (!given || !timingSafeEqual(digest(given), digest(expected)))
    throw new AppError("UNAUTHENTICATED", "Send the instance metrics token: Authorization: Bearer <METRICS_TOKEN>.");
}

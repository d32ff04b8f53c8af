import { nextRuns } from "../schedules/cron";

/**
 * A schedule's interval: the longest gap between its next slots (a weekday schedule's is the
 * weekend's three days), so "no backup for longer than the interval" is never normal.
 */
export function scheduleIntervalMs(cron: string, timezone: string, now = new Date()): number {
  const runs = nextRuns(cron, timezone, 12, now);
  let longest = 0;
  for (let i = 1; i < runs.length; i++) longest = Math.max(longest, runs[i]!.getTime() - runs[i - 1]!.getTime());
  return longest;
}

/**
 * How old a schedule's newest successful backup may be before it is stale: its interval plus a
 * grace period, one more interval unless the schedule says otherwise. A daily schedule is stale
 * after two days — the runbook's rule.
 */
export function staleAfterMs(
  s: { cron: string; timezone: string; staleGraceMinutes: number | null },
  now = new Date(),
) {
  const interval = scheduleIntervalMs(s.cron, s.timezone, now);
  return interval + (s.staleGraceMinutes === null ? interval : s.staleGraceMinutes * 60_000);
}

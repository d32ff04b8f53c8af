import { nextRuns } from "../schedules/cron";

const DAY = 86_400_000;
const MAX_SLOTS = 2016; // two weeks of a schedule every 10 minutes
const memo = new Map<string, number>();
let memoDay = 0;

/**
 * A schedule's interval: the longest gap between its slots (a weekday schedule's is the weekend),
 * so "no backup for longer than the interval" is never normal. The slots looked at are the same
 * all day whenever it is asked: from a week before today to the first slot 8 days after (at least
 * 12, so a monthly schedule's month counts; at most MAX_SLOTS, so a schedule more often than every
 * 10 minutes may not reach its weekend). Looking only ahead of now, an hourly weekday schedule's
 * interval was an hour midweek, and it went stale every weekend. Kept for the day per cron and
 * time zone: the stale check and each metrics scrape ask for every schedule.
 */
export function scheduleIntervalMs(cron: string, timezone: string, now = new Date()): number {
  const today = Math.floor(now.getTime() / DAY) * DAY;
  if (today !== memoDay) {
    memo.clear();
    memoDay = today;
  }
  const key = `${cron}\n${timezone}`;
  const known = memo.get(key);
  if (known !== undefined) return known;
  const until = today + 8 * DAY;
  const runs: Date[] = [];
  let after = new Date(today - 7 * DAY);
  while (runs.length < MAX_SLOTS && (runs.length < 12 || after.getTime() < until)) {
    const batch = nextRuns(cron, timezone, Math.min(64, MAX_SLOTS - runs.length), after);
    if (!batch.length) break;
    for (const run of batch) {
      runs.push(run);
      if (runs.length >= 12 && run.getTime() >= until) break;
    }
    after = runs.at(-1)!;
  }
  let longest = 0;
  for (let i = 1; i < runs.length; i++) longest = Math.max(longest, runs[i]!.getTime() - runs[i - 1]!.getTime());
  memo.set(key, longest);
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

/**
 * Grandfather–father–son retention as a pure function: which backups to keep, why, and which
 * expire. No I/O; exhaustively tested (select.test.ts).
 *
 * Semantics (as borg and restic prune): for a rule "keep N days", walk the successful backups from
 * newest to oldest and keep the newest backup of each day that has one, until N days are covered;
 * the same for ISO weeks, months and years, and "keep the last N" counts backups. Periods are
 * calendar periods in the policy's time zone. Rules are independent: one backup may be kept by
 * several, and it is kept as long as the longest of them keeps it.
 *
 * Tier (which storage class its copies belong in): the shortest period rule keeping it, so a new
 * backup starts in the daily class and moves colder as it ages out of each window (daily → weekly
 * → monthly → yearly), as the runbook's table has it. One of the last N, or the latest: daily,
 * whatever else keeps it. Kept only because everything is kept: yearly (older than every window). Kept only
 * because it is the latest verified or being read: no tier (its copies stay where they are).
 *
 * Invariants, whatever the history:
 * - the latest successful backup and the latest verified backup are never expired;
 * - a backup something is reading (download, restore, verification) is never expired;
 * - only successful backups are considered: a failed run neither counts toward a rule nor expires
 *   anything (it holds no object).
 */

export interface RetentionPolicy {
  /** Keep everything ("keep until deleted"); the counts then only set tiers (storage classes by age). */
  keepAll: boolean;
  last: number;
  daily: number;
  weekly: number;
  monthly: number;
  yearly: number;
}

/** The runbook's policy: 7 daily, 4 weekly, 6 monthly. */
export const DEFAULT_POLICY: RetentionPolicy = { keepAll: false, last: 0, daily: 7, weekly: 4, monthly: 6, yearly: 0 };

export interface Candidate {
  id: string;
  /** When the backup was taken. */
  at: Date;
  succeeded: boolean;
  verified?: boolean;
  /** A download, restore or verification is reading it now. */
  inUse?: boolean;
}

export type Tier = "daily" | "weekly" | "monthly" | "yearly";
export type Rule = "last" | Tier | "latest" | "latest-verified" | "in-use" | "keep-all";

export interface Decision {
  id: string;
  keep: boolean;
  /** Why it is kept (empty when it expires). */
  rules: Rule[];
  /** The storage tier of a kept backup (see above); null when it expires or its class should not change. */
  tier: Tier | null;
}

const tierOrder: Tier[] = ["daily", "weekly", "monthly", "yearly"];

const formats = new Map<string, Intl.DateTimeFormat>();

/** Calendar parts of an instant in a time zone. */
function parts(at: Date, timeZone: string): { y: number; m: number; d: number } {
  let format = formats.get(timeZone);
  if (!format)
    formats.set(
      timeZone,
      (format = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })),
    );
  const f = format.formatToParts(at);
  const get = (type: string) => Number(f.find((p) => p.type === type)!.value);
  return { y: get("year"), m: get("month"), d: get("day") };
}

/** ISO 8601 week ("2026-W48") of a calendar date. */
function isoWeek(y: number, m: number, d: number): string {
  const date = new Date(Date.UTC(y, m - 1, d));
  const weekday = date.getUTCDay() || 7; // Monday 1 … Sunday 7
  date.setUTCDate(date.getUTCDate() + 4 - weekday); // the Thursday of this week decides the year
  const year = date.getUTCFullYear();
  const week = Math.ceil(((date.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${year}-W${String(week).padStart(2, "0")}`;
}

/** The period keys of a backup for each tier, in the time zone. */
export function periodKeys(at: Date, timeZone: string): Record<Tier, string> {
  const { y, m, d } = parts(at, timeZone);
  const pad = (n: number) => String(n).padStart(2, "0");
  return { daily: `${y}-${pad(m)}-${pad(d)}`, weekly: isoWeek(y, m, d), monthly: `${y}-${pad(m)}`, yearly: String(y) };
}

export function selectRetention(backups: Candidate[], policy: RetentionPolicy, timeZone: string): Decision[] {
  const good = backups
    .filter((b) => b.succeeded)
    .sort((a, b) => b.at.getTime() - a.at.getTime() || (a.id < b.id ? 1 : -1));
  const rules = new Map<string, Set<Rule>>(good.map((b) => [b.id, new Set<Rule>()]));
  const keepBy = (id: string, rule: Rule) => rules.get(id)!.add(rule);

  if (policy.keepAll) for (const b of good) keepBy(b.id, "keep-all");
  good.slice(0, Math.max(0, policy.last)).forEach((b) => keepBy(b.id, "last"));
  const keys = new Map(good.map((b) => [b.id, periodKeys(b.at, timeZone)]));
  for (const tier of tierOrder) {
    const n = policy[tier];
    let covered = 0;
    let lastKey: string | undefined;
    for (const b of good) {
      if (covered >= n) break;
      const key = keys.get(b.id)![tier];
      if (key === lastKey) continue; // newest first: the first of a period is its newest backup
      lastKey = key;
      covered++;
      keepBy(b.id, tier);
    }
  }
  if (good[0]) keepBy(good[0].id, "latest");
  const verified = good.find((b) => b.verified);
  if (verified) keepBy(verified.id, "latest-verified");
  for (const b of good) if (b.inUse) keepBy(b.id, "in-use");

  return good.map((b) => {
    const kept = [...rules.get(b.id)!];
    return { id: b.id, keep: kept.length > 0, rules: kept, tier: tierOf(kept) };
  });
}

function tierOf(rules: Rule[]): Tier | null {
  if (rules.includes("last") || rules.includes("latest")) return "daily"; // the newest stay at hand
  const shortest = tierOrder.find((t) => rules.includes(t));
  if (shortest) return shortest;
  if (rules.includes("keep-all")) return "yearly";
  return null;
}

/** A policy in words: "keeps the last 7 days, 4 weeks, 6 months — about 17 backups". */
export function describePolicy(p: RetentionPolicy): string {
  if (p.keepAll) return "keeps every backup until it is deleted";
  const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;
  const pieces = [
    p.last > 0 && `the last ${plural(p.last, "backup")}`,
    p.daily > 0 && plural(p.daily, "day"),
    p.weekly > 0 && plural(p.weekly, "week"),
    p.monthly > 0 && plural(p.monthly, "month"),
    p.yearly > 0 && plural(p.yearly, "year"),
  ].filter(Boolean) as string[];
  if (!pieces.length) return "keeps only the latest backup";
  const total = p.last + p.daily + p.weekly + p.monthly + p.yearly;
  const list = pieces[0]!.startsWith("the last") ? pieces.join(", ") : `the last ${pieces.join(", ")}`;
  return `keeps ${list} — about ${plural(total, "backup")}`;
}

/**
 * Whether `next` can keep fewer backups than `current` (a shorter rule, or no longer keeping
 * everything): such a change removes backups, so it needs an admin. Under keepAll the counts only
 * choose storage tiers.
 */
export function keepsLess(current: RetentionPolicy, next: RetentionPolicy): boolean {
  if (next.keepAll) return false;
  if (current.keepAll) return true;
  return (["last", ...tierOrder] as const).some((rule) => next[rule] < current[rule]);
}

/** Sizes, counts, dates and durations in words, for messages and pages (pure, used on the server and in the browser). */

const plurals = new Intl.PluralRules("en");
const numbers = new Intl.NumberFormat("en");

/** "1 table", "20,000 rows", "0 files": a count with its noun in the right number. */
export function formatCount(n: number, one: string, other = `${one}s`): string {
  return `${numbers.format(n)} ${plurals.select(n) === "one" ? one : other}`;
}

/** 1 byte, 900 bytes, 512.0 KiB, 1.5 GiB: the largest unit in which the size is at least 1. */
export function formatBytes(bytes: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  if (bytes < 1024) return formatCount(Math.round(bytes), "byte");
  let value = bytes / 1024;
  let unit = 0;
  // 1023.96 KiB would read "1024.0 KiB": the next unit says it better.
  while (value >= 1023.95 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** What a verification checked: "2 tables counted, 3 files in the archive checked against the manifest". */
export function describeChecks(tables: number, files: number): string {
  return `${formatCount(tables, "table")} counted, ${formatCount(files, "file")} in the archive checked against the manifest`;
}

/** 0.4 s, 12 s, 3 min 05 s, 2 h 04 min. */
export function formatDuration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** How long ago, coarsely: 5 min, 3 h, 4 days. */
export function formatAge(ms: number): string {
  const min = Math.max(0, Math.floor(ms / 60_000));
  if (min < 60) return `${min} min`;
  if (min < 48 * 60) return `${Math.floor(min / 60)} h`;
  return `${Math.floor(min / 1440)} days`;
}

export type DateTimeStyle = "minutes" | "seconds" | "time";

/**
 * "6 Dec 2026, 14:05 UTC": one way to write a date and time everywhere, in `timeZone` (absent: the
 * reader's own, in a browser), with the zone's short name so it is never ambiguous. "seconds" adds
 * them; "time" is the time alone, with seconds (a log's lines).
 */
export function formatDateTime(at: Date, timeZone?: string, style: DateTimeStyle = "minutes"): string {
  return new Intl.DateTimeFormat("en-GB", {
    ...(style === "time" ? {} : { day: "numeric", month: "short", year: "numeric" }),
    hour: "2-digit",
    minute: "2-digit",
    ...(style === "minutes" ? {} : { second: "2-digit" }),
    timeZoneName: "short",
    timeZone,
  }).format(at);
}

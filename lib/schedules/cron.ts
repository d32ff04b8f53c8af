import { Cron } from "croner";
import { AppError } from "../errors";

/** The IANA time zones to offer in forms (aliases such as Asia/Kolkata are accepted too). */
export const timeZones: readonly string[] = ["UTC", ...Intl.supportedValuesOf("timeZone").filter((z) => z !== "UTC")];

/**
 * The zones a form offers with `current` selected: the list, and `current` first when the list
 * names it otherwise (Node 20 lists Asia/Calcutta, not Asia/Kolkata): a select without it would
 * show, and save, its first option, UTC.
 */
export function zoneChoices(zones: readonly string[], current: string): readonly string[] {
  return zones.includes(current) ? zones : [current, ...zones];
}

export function assertTimeZone(zone: string): void {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    if (zone.trim() === "") throw new RangeError("empty");
  } catch {
    throw new AppError(
      "VALIDATION",
      `Unknown time zone "${zone}". Use a zone such as Europe/Berlin or America/New_York.`,
      { timezone: ["Choose a time zone from the list."] },
    );
  }
}

function parse(cron: string, timezone: string): Cron {
  assertTimeZone(timezone);
  try {
    // Standard five fields (minute hour day month weekday); croner's optional seconds field is not offered.
    if (cron.trim().split(/\s+/).length !== 5) throw new Error("five fields");
    // A list or range of hours (`30 2,14 * * *`) is wall-clock times too: in a DST gap it runs once
    // just after, and once when a time occurs twice, as a single time does (croner's default
    // skipped it in the gap and ran it twice in the overlap).
    return new Cron(cron, { timezone, paused: true, fixedTimeRule: "no-wildcard" });
  } catch {
    throw new AppError(
      "VALIDATION",
      `"${cron}" is not a cron expression Coffer understands: use five fields, minute hour day-of-month month day-of-week (e.g. 0 2 * * * for 02:00 daily).`,
      { "when.cron": ["Use five fields, e.g. 0 2 * * *."] },
    );
  }
}

/** The next `count` slots strictly after `after`, in UTC instants; DST is the time zone's business. */
export function nextRuns(cron: string, timezone: string, count: number, after: Date = new Date()): Date[] {
  return parse(cron, timezone).nextRuns(count, after);
}

export function nextRun(cron: string, timezone: string, after: Date = new Date()): Date | null {
  return parse(cron, timezone).nextRun(after);
}

export type Preset =
  | { kind: "hourly"; minute: number }
  | { kind: "daily"; time: string }
  | { kind: "weekly"; weekday: number; time: string }
  | { kind: "monthly"; day: number; time: string }
  | { kind: "cron"; cron: string };

export const weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** The cron expression of a preset ("daily at 02:30" → "30 2 * * *"). */
export function presetToCron(p: Preset): string {
  const [h, m] = "time" in p ? p.time.split(":").map(Number) : [0, 0];
  switch (p.kind) {
    case "hourly":
      return `${p.minute} * * * *`;
    case "daily":
      return `${m} ${h} * * *`;
    case "weekly":
      return `${m} ${h} * * ${p.weekday}`;
    case "monthly":
      return `${m} ${h} ${p.day} * *`;
    case "cron":
      return p.cron.trim();
  }
}

/** The preset a cron expression came from, for editing; anything else is a custom expression. */
export function cronToPreset(cron: string): Preset {
  const [min, hour, dom, mon, dow] = cron.trim().split(/\s+/);
  const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
  const m = num(min);
  const h = num(hour);
  const time =
    h !== undefined && m !== undefined ? `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}` : undefined;
  if (m !== undefined && hour === "*" && dom === "*" && mon === "*" && dow === "*")
    return { kind: "hourly", minute: m };
  if (time && dom === "*" && mon === "*" && dow === "*") return { kind: "daily", time };
  if (time && dom === "*" && mon === "*" && num(dow) !== undefined && num(dow)! <= 6)
    return { kind: "weekly", weekday: num(dow)!, time };
  if (time && num(dom) !== undefined && num(dom)! <= 28 && mon === "*" && dow === "*")
    return { kind: "monthly", day: num(dom)!, time };
  return { kind: "cron", cron: cron.trim() };
}

/** Words for a schedule: "Daily at 02:00", or the expression itself when it is no preset. */
export function describeCron(cron: string): string {
  const p = cronToPreset(cron);
  switch (p.kind) {
    case "hourly":
      return `Hourly at minute ${p.minute}`;
    case "daily":
      return `Daily at ${p.time}`;
    case "weekly":
      return `Weekly on ${weekdays[p.weekday]} at ${p.time}`;
    case "monthly":
      return `Monthly on day ${p.day} at ${p.time}`;
    case "cron":
      return `Cron ${p.cron}`;
  }
}

const CURSOR = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)\|(aud_[0-9a-z]+)$/;

/**
 * An audit page's position as its `nextCursor` gave it (microsecond time | id), else undefined.
 * A time the calendar lacks (02-30) or year 0 is refused here: PostgreSQL would refuse it later.
 */
export function parseAuditCursor(value: string | undefined): { at: string; id: string } | undefined {
  const m = value?.match(CURSOR);
  if (!m) return undefined;
  const at = new Date(m[1]!);
  if (Number.isNaN(at.getTime()) || at.getUTCFullYear() < 1 || at.toISOString().slice(0, 19) !== m[1]!.slice(0, 19))
    return undefined;
  return { at: m[1]!, id: m[2]! };
}

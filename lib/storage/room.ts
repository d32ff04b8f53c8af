import { formatBytes } from "@/lib/format";
import type { Room } from "./types";

/**
 * Why a backup of about `expected` bytes (`basis` says where that figure comes from) cannot be
 * written to these destinations, or undefined: an object larger than a destination takes, more
 * than a disk's free space, or larger upload parts than the Coffer host has disk space for.
 */
export function roomProblem(
  expected: number,
  basis: string,
  rooms: { name: string; room: Room }[],
): string | undefined {
  const problems: string[] = [];
  const fixes = new Set<string>();
  for (const { name, room } of rooms) {
    if (expected > room.largestObject) {
      problems.push(`${name} takes objects of at most ${formatBytes(room.largestObject)} (${room.why})`);
      fixes.add("choose another destination, or split the sources into smaller backups");
    } else if (room.freeBytes !== undefined && expected > room.freeBytes) {
      problems.push(`${name} has ${formatBytes(room.freeBytes)} free on ${room.why}`);
      fixes.add("free some space there");
    }
  }
  const spool = new Map<string, { bytes: number; freeBytes: number }>();
  for (const { room } of rooms) {
    if (!room.spool) continue;
    const seen = spool.get(room.spool.dir);
    spool.set(room.spool.dir, { bytes: (seen?.bytes ?? 0) + room.spool.bytes, freeBytes: room.spool.freeBytes });
  }
  for (const [dir, { bytes, freeBytes }] of spool) {
    if (bytes <= freeBytes) continue;
    problems.push(
      `its upload parts need ${formatBytes(bytes)} in ${dir} on the Coffer host, which has ${formatBytes(freeBytes)} free`,
    );
    fixes.add("free space there or set TMPDIR to a folder on a larger disk");
  }
  if (!problems.length) return undefined;
  const fix = [...fixes].join("; ");
  return `A backup of about ${formatBytes(expected)} (${basis}) does not fit: ${problems.join("; ")}. To go on, ${fix}.`;
}

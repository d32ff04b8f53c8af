// Looking at this machine's processes, to prove a cancelled or failed command left none behind.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

/** Live processes whose command line starts with `commandLine` (zombies have none, so they do not count). */
export function processesMatching(commandLine: string): string[] {
  const out = execFileSync("ps", ["-eo", "pid=,stat=,args="]).toString();
  return out.split("\n").filter((line) => {
    const m = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    return m !== null && !m[2]!.startsWith("Z") && m[3]!.startsWith(commandLine);
  });
}

/**
 * Live processes running `program` (by its name, or a path ending in it: Debian's wrapper runs
 * pg_dump by its full path) whose environment holds `entry`, as `PGAPPNAME=coffer:<run id>` names
 * one run's commands among others running at the same time.
 */
export function processesOf(program: string, entry: string): string[] {
  const out = execFileSync("ps", ["-eo", "pid=,stat=,args="]).toString();
  return out.split("\n").filter((line) => {
    const m = /^\s*(\d+)\s+(\S+)\s+(?:\S*\/)?(\S+)/.exec(line);
    if (!m || m[2]!.startsWith("Z") || m[3] !== program) return false;
    try {
      return readFileSync(`/proc/${m[1]}/environ`, "latin1").split("\0").includes(entry);
    } catch {
      return false; // it ended meanwhile
    }
  });
}

/** Waits up to `ms` for the processes `marker` matches (`processesMatching`), or `find` finds, to end; returns those left. */
export async function waitUntilGone(marker: string | (() => string[]), ms = 3000): Promise<string[]> {
  const find = typeof marker === "string" ? () => processesMatching(marker) : marker;
  const until = Date.now() + ms;
  let left = find();
  while (left.length && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    left = find();
  }
  return left;
}

/** A unique `sleep` duration, so `ps` finds exactly our process. */
export const uniqueSleep = () => `${30 + Math.floor(Math.random() * 60)}.${randomBytes(3).readUIntBE(0, 3)}`;

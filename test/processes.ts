// Looking at this machine's processes, to prove a cancelled or failed command left none behind.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/** Live processes whose command line starts with `commandLine` (zombies have none, so they do not count). */
export function processesMatching(commandLine: string): string[] {
  const out = execFileSync("ps", ["-eo", "pid=,stat=,args="]).toString();
  return out.split("\n").filter((line) => {
    const m = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    return m !== null && !m[2]!.startsWith("Z") && m[3]!.startsWith(commandLine);
  });
}

export async function waitUntilGone(marker: string, ms = 3000): Promise<string[]> {
  const until = Date.now() + ms;
  let left = processesMatching(marker);
  while (left.length && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    left = processesMatching(marker);
  }
  return left;
}

/** A unique `sleep` duration, so `ps` finds exactly our process. */
export const uniqueSleep = () => `${30 + Math.floor(Math.random() * 60)}.${randomBytes(3).readUIntBE(0, 3)}`;

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { metricHelp } from "./render";

const dir = path.resolve(import.meta.dirname, "../../docs/prometheus");
const promtool = (...args: string[]) => spawnSync("promtool", args, { cwd: dir, encoding: "utf8" });

describe("docs/prometheus/coffer-rules.yml", () => {
  it("passes promtool check rules and promtool test rules", () => {
    const check = promtool("check", "rules", "coffer-rules.yml");
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const test = promtool("test", "rules", "coffer-rules.test.yml");
    expect(test.status, test.stdout + test.stderr).toBe(0);
  }, 60_000); // the pause case evaluates twelve days minute by minute: seconds on a busy machine

  it("names only metrics Coffer exports", () => {
    const used = new Set(readFileSync(path.join(dir, "coffer-rules.yml"), "utf8").match(/coffer_[a-z_]+/g));
    for (const name of used) expect(Object.keys(metricHelp), name).toContain(name);
  });
});

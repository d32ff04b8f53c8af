import "server-only";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hostileArguments } from "@/test/hostile-arguments";
import { quoteArg, shellQuote } from "./quote";

const canary = `/tmp/pwned-quote-${process.pid}`;
const hostile = hostileArguments(canary);

/** Runs `printf '%s\0' <quoted args>` in a real shell and splits what comes back. */
function roundTrip(shell: string, args: string[]): string[] {
  const r = spawnSync(shell, ["-c", `printf '%s\\0' ${shellQuote(args)}`], { encoding: "buffer" });
  expect(r.status, r.stderr.toString()).toBe(0);
  const out = r.stdout.toString("utf8").split("\0");
  out.pop(); // after the last NUL
  return out;
}

const shells = ["/bin/sh", "/bin/dash", "/bin/bash"].filter((s) => existsSync(s));

describe("shellQuote", () => {
  it("single-quotes every argument and escapes single quotes as '\\''", () => {
    expect(quoteArg("abc")).toBe("'abc'");
    expect(quoteArg("")).toBe("''");
    expect(quoteArg("it's")).toBe(`'it'\\''s'`);
    expect(quoteArg("a\nb")).toBe("'a\nb'");
    expect(quoteArg("$(id)")).toBe("'$(id)'");
    expect(shellQuote(["printf", "%s\\n", "-n"])).toBe("'printf' '%s\\n' '-n'");
  });

  it("refuses what cannot be an argument", () => {
    expect(() => quoteArg("a\0b")).toThrow(/NUL/);
    expect(() => shellQuote([])).toThrow(/at least one/);
    expect(() => quoteArg(42 as unknown as string)).toThrow(TypeError);
  });

  it.each(shells)("hostile arguments reach %s unchanged and run nothing", (shell) => {
    expect(roundTrip(shell, hostile)).toEqual(hostile);
    expect(existsSync(canary)).toBe(false);
  });

  it("any argument vector survives a real shell (property)", () => {
    const arg = fc.string({ unit: "binary", maxLength: 40 }).map((s) => s.replaceAll("\0", ""));
    fc.assert(
      fc.property(fc.array(arg, { minLength: 1, maxLength: 6 }), (args) => {
        expect(roundTrip(shells[0]!, args)).toEqual(args);
      }),
      { numRuns: 150 },
    );
    expect(existsSync(canary)).toBe(false);
    // 150 real shells take seconds on a busy two-core machine.
  }, 60_000);
});

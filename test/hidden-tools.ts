// A server without some programs: every command runs with a PATH that holds links to everything on
// this machine's PATH except the hidden ones (igzip, pigz, python3…), over any Reach.
import { existsSync, mkdtempSync, readdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Reach } from "@/lib/reach";

type ExecOptions = NonNullable<Parameters<Reach["exec"]>[1]>;

/** A new folder in `parent` of links to the programs on this process's PATH, except `hidden` (the first of each name wins, as in a PATH lookup). */
export function pathWithout(hidden: string[], parent = tmpdir()): string {
  const dir = mkdtempSync(path.join(parent, "path-"));
  for (const from of (process.env.PATH ?? "").split(":")) {
    let names: string[];
    try {
      names = readdirSync(from);
    } catch {
      continue;
    }
    for (const name of names) {
      const link = path.join(dir, name);
      if (hidden.includes(name) || existsSync(link)) continue;
      symlinkSync(path.join(from, name), link);
    }
  }
  return dir;
}

/** `reach` with every command run under `PATH=dir`. */
export function withPath(reach: Reach, dir: string): Reach {
  const opts = (o?: ExecOptions): ExecOptions => ({ ...o, env: { ...o?.env, PATH: dir } });
  return {
    label: reach.label,
    exec: (argv, o) => reach.exec(argv, opts(o)),
    execPipeline: (stages, o) => reach.execPipeline(stages, opts(o)),
    readFile: (p, o) => reach.readFile(p, o),
    writeFile: (p, body, o) => reach.writeFile(p, body, o),
    close: () => reach.close(),
  };
}

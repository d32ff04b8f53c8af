import "server-only";
import { readlink } from "node:fs/promises";
import path from "node:path";
import { env } from "../env";
import { AppError } from "../errors";

/**
 * Where a path on the Coffer host really leads, part by part as the kernel walks it: symbolic
 * links (`/proc/self/root` too) are followed, `..` goes up from where a link led. Parts that do
 * not exist yet are taken as written, so a folder a restore will create is judged by where it lands.
 */
export async function realPathOnHost(p: string): Promise<string> {
  const ahead = (p.startsWith("/") ? p : `${process.cwd()}/${p}`).split("/");
  let at = "/";
  let links = 0;
  while (ahead.length) {
    const part = ahead.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      at = path.dirname(at);
      continue;
    }
    const next = path.join(at, part);
    // Not a link, or not there (yet): taken as is.
    const link = await readlink(next).catch(() => null);
    if (link === null) {
      at = next;
      continue;
    }
    if (++links > 40)
      throw new AppError("VALIDATION", `${p} goes through too many symbolic links; choose another folder.`);
    ahead.unshift(...link.split("/"));
    if (link.startsWith("/")) at = "/";
  }
  return at;
}

/** What each checked path is, in messages and on the form. */
export const sourceFolder = { what: "The source folder", field: "paths" } as const;
export const restoreFolder = { what: "The restore folder", field: "targetPath" } as const;
export const workFolder = { what: "The work folder", field: "workDir", containing: "allowed" } as const;
export const backupDirectory = { what: "The backup directory", field: "path" } as const;

const within = (inner: string, outer: string) => outer === "/" || inner.startsWith(`${outer}/`);

/**
 * On the Coffer host itself, a folder that is, lies inside or contains Coffer's data folder would
 * hand a team the master keys, the session secret, the database and other teams' local storage.
 * Checked when a path is saved and again right before it is used (a link can change in between).
 * `containing` allows a folder that only contains it: a work folder, where Coffer itself makes a
 * fresh private folder and touches nothing else.
 */
export async function assertOutsideCofferData(
  serverKind: "ssh" | "local",
  paths: string[],
  o: { what: string; field: string; containing?: "allowed" },
): Promise<void> {
  if (serverKind !== "local") return;
  const data = await realPathOnHost(env().DATA_DIR);
  for (const p of paths) {
    const real = await realPathOnHost(p);
    const relation =
      real === data
        ? "is"
        : within(real, data)
          ? "is inside"
          : within(data, real) && o.containing !== "allowed"
            ? "contains"
            : null;
    if (!relation) continue;
    // Neither the data folder's path nor where a link leads is shown: members need not learn them.
    throw new AppError("VALIDATION", `${o.what} ${p} ${relation} Coffer's data folder; choose a folder outside it.`, {
      [o.field]: ["Overlaps Coffer's data folder."],
    });
  }
}

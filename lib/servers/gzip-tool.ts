import type { GzipTool } from "../backups/compression";

/**
 * What the server test says about the gzip tool a server's backups use (lib/backups/compression.ts
 * picks igzip, else pigz, else gzip) and, when only gzip is there, how to install a faster one with
 * the server's own package manager. Speeds: docs/design/archive.md#compression.
 */
export const packageManagers = ["apt-get", "dnf", "yum", "apk"] as const;
export type PackageManager = (typeof packageManagers)[number];

const SPEED: Record<GzipTool, string> = { igzip: "fastest", pigz: "fast, on every core", gzip: "slowest" };

const INSTALL: Record<PackageManager, string> = {
  "apt-get": "apt-get install isal",
  dnf: "dnf install isa-l",
  yum: "yum install isa-l",
  apk: "apk add isa-l",
};

/** The tool backups use: the first of igzip, pigz, gzip the server has; undefined when it has none. */
export function gzipToolOf(tools: readonly string[]): GzipTool | undefined {
  return (["igzip", "pigz", "gzip"] as const).find((t) => tools.includes(t));
}

/** "igzip (fastest)". */
export function describeGzipTool(tool: GzipTool): string {
  return `${tool} (${SPEED[tool]})`;
}

/** With only gzip: the command that installs igzip, for the server's package manager (Debian/Ubuntu's when unknown). */
export function fasterGzipHint(packageManager: PackageManager | undefined): string {
  const command = packageManager ? INSTALL[packageManager] : `${INSTALL["apt-get"]} (on Debian/Ubuntu)`;
  return (
    "In Coffer's measurement igzip (Intel ISA-L) compressed about ten times faster than gzip -6, at the same size: " +
    `install it with ${command}, or install pigz.`
  );
}

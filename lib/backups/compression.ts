/**
 * How an archive is compressed: always standard gzip (any `gunzip`, `tar xzf`, Python or zlib
 * reads it), by the fastest tool the server has for the chosen setting. Measurements behind the
 * choices: docs/design/archive.md#compression.
 */
export const compressionSettings = ["fast", "balanced", "small"] as const;
export type CompressionSetting = (typeof compressionSettings)[number];
export type GzipTool = "igzip" | "pigz" | "gzip";

export interface Compressor {
  tool: GzipTool;
  level: number;
}

/** Per setting, the tools in order of preference with their level. */
const CHOICES: Record<CompressionSetting, Compressor[]> = {
  fast: [
    { tool: "igzip", level: 1 },
    { tool: "pigz", level: 1 },
    { tool: "gzip", level: 1 },
  ],
  balanced: [
    { tool: "igzip", level: 3 },
    { tool: "pigz", level: 6 },
    { tool: "gzip", level: 6 },
  ],
  // igzip's strongest level (3) is not smaller than gzip -9.
  small: [
    { tool: "pigz", level: 9 },
    { tool: "gzip", level: 9 },
  ],
};

/** The compressor for `setting` among the tools a server has; undefined when it has none of them. */
export function compressorFor(setting: CompressionSetting, tools: ReadonlySet<string>): Compressor | undefined {
  return CHOICES[setting].find((c) => tools.has(c.tool));
}

/** The argument vector that compresses standard input to standard output. */
export const compressorArgv = (c: Compressor) => [c.tool, `-${c.level}`];

/** What each setting is called and which tool it uses, for forms and pages. */
export const compressionText: Record<CompressionSetting, { label: string; detail: string }> = {
  fast: { label: "Fast", detail: "igzip -1, else pigz -1 (gzip -1 without either): the quickest." },
  balanced: { label: "Balanced", detail: "igzip -3, else pigz -6 (gzip -6 without either)." },
  small: { label: "Small", detail: "pigz -9, else gzip -9: the smallest archive, and the slowest." },
};

/** "Small (pigz -9)": the setting and, once an archive was made, the tool and level that made it. */
export function describeCompression(setting: CompressionSetting, made?: Compressor): string {
  const label = compressionText[setting].label;
  return made ? `${label} (${made.tool} -${made.level})` : label;
}

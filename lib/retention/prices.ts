import { AppError } from "../errors";

/**
 * List prices in USD per GB-month by storage class, for the monthly cost estimate. S3's are the
 * runbook's (STANDARD 0.023, STANDARD_IA 0.0125, GLACIER 0.004); the others are the providers'
 * published us-east list prices. A destination can override any of them (its provider, region or
 * contract may differ). The local disk and server directories cost nothing here.
 */
export const DEFAULT_PRICES: Record<string, Record<string, number>> = {
  s3: { STANDARD: 0.023, STANDARD_IA: 0.0125, GLACIER_IR: 0.004, GLACIER: 0.004, DEEP_ARCHIVE: 0.00099 },
  gcs: { STANDARD: 0.02, NEARLINE: 0.01, COLDLINE: 0.004, ARCHIVE: 0.0012 },
  azure: { Hot: 0.0184, Cool: 0.01, Cold: 0.0036, Archive: 0.00099 },
};

/** The price of a class at a destination: its override, else the list price, else 0. */
export function priceOf(kind: string, storageClass: string | null, overrides: Record<string, number> | null): number {
  if (!storageClass) return 0;
  return overrides?.[storageClass] ?? DEFAULT_PRICES[kind]?.[storageClass] ?? 0;
}

/** "STANDARD=0.02, GLACIER=0.0036" → overrides; empty text → none. Classes must be the provider's. */
export function parsePrices(text: string, kind: string): Record<string, number> | null {
  const known = Object.keys(DEFAULT_PRICES[kind] ?? {});
  const out: Record<string, number> = {};
  for (const item of text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z_]+)\s*=\s*(\d+(?:\.\d+)?)$/.exec(item);
    const cls = m && known.find((k) => k.toLowerCase() === m[1]!.toLowerCase());
    if (!m || !cls)
      throw new AppError(
        "VALIDATION",
        `"${item}" is not CLASS=price. Use classes of this provider (${known.join(", ") || "none"}) with a price in USD per GB-month, e.g. ${known[0] ?? "STANDARD"}=0.02.`,
        { prices: ["Use CLASS=price, separated by commas."] },
      );
    out[cls] = Number(m[2]);
  }
  return Object.keys(out).length ? out : null;
}

export function formatPrices(prices: Record<string, number> | null): string {
  return prices
    ? Object.entries(prices)
        .map(([k, v]) => `${k}=${v}`)
        .join(", ")
    : "";
}
